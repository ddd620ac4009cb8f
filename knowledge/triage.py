"""Safety triage: before retrieval, decide whether a message is an emergency,
a disclosure of abuse, a request to report, or small talk.

Design
------
Everything works on :func:`knowledge.normalize.normalize` output (ASCII
syllables, teencode expanded). Patterns are grouped by *linguistic role*, not
by memorised sentences, and each group carries a weight:

* **harm** - verbs and phrases of harm to a child: violence, sexual abuse,
  luring and online exploitation, bullying and humiliation, neglect, forced
  labour or marriage, trafficking. ``bị`` + harm (passive) and agent + harm +
  victim (active) both count.
* **anchor** - what makes it a concrete event rather than a topic: a concrete
  victim or agent ("con tôi", "bé nhà hàng xóm", "bố em", "có một ông…"), the
  victim's own voice ("em bị…"), tense/aspect and time ("đã", "vừa", "hôm qua",
  "mấy tuần nay", "hay", "cứ", "ngày nào cũng"), narrative verbs ("kể là",
  "phát hiện"), an age ("14 tuổi").
* **generic** - what makes it a guidance question: knowledge questions ("làm
  sao biết", "dấu hiệu", "cách", "có nên", "luật"), a condition or worry in
  front of the harm ("khi con bị…", "nếu…", "sợ bé bị…"), a generic child
  ("trẻ em", "học sinh") with no concrete event.
* **urgent** - danger now or within hours: calls for help ("cứu với"),
  ongoing harm ("đang đánh"), threats for tonight, locking in, abduction and
  missing children, drowning or unconsciousness, suicidal words.

Emergency = urgent - generic above a threshold. Disclosure = harm x anchor -
generic above a threshold. Recall matters more than precision: a concrete
victim plus a harm is a disclosure even when the sentence ends with "phải làm
sao?" - only knowledge questions and conditions turn it into guidance.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from knowledge.normalize import normalize

__all__ = ["Triage", "triage"]


@dataclass(frozen=True, slots=True)
class Triage:
    """Result of :func:`triage`. ``intent`` None means "go to retrieval"."""

    intent: str | None
    score: float
    reasons: tuple[str, ...] = ()


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b")


_W = r"(?:\w+ )"  # one syllable and a space, for gaps like {0,3}

# --- people ------------------------------------------------------------------
_PRON = r"(?:toi|em|con|chau|be|minh|no|tui|tao|con toi|con em|be nha|nguoi em|nguoi con)"
_OWNER = r"(?:toi|em|minh|tao|nha toi|nha em|nha minh|cua toi|cua em|cua minh|nha|ba|tui|ta)"
_KIN = (
    r"(?:bo|me|ba|cha|chong|vo|ong|ba noi|ba ngoai|ong noi|ong ngoai|chu|bac|cau|di|co|thim|mo|tia|ma|"
    r"anh|chi|anh ho|chi ho|me ke|bo duong|cha duong|me ghe|dượng|duong|ban trai|nguoi yeu|"
    r"thay|co giao|thay giao|ban|ban cung lop)"
)
_CONCRETE = _rx(
    rf"(?:con|chau|be|em|dua con|con gai|con trai|em gai|em trai|chau gai|chau trai|chau noi|"
    rf"chau ngoai|hoc sinh|hoc tro|ban|chi|anh) (?:lon |nho |ut |gai |trai |\d+ tuoi |\d+t )?{_OWNER}",
    r"(?:con|be|chau|dua be|thang be|con be|dua nho|nha) (?:nha |cua )?(?:hang xom|ben canh|nha ben|"
    r"doi dien|trong xom|o xom|dau ngo|cuoi ngo|ben)",
    r"hang xom|nha ben canh|trong xom|o xom|trong lang|o lang|trong ban|o ban",
    r"(?:co|thay|gap) (?:mot |1 )?(?:be|chau|em|dua tre|dua be|dua nho|ban|hoc sinh|con be|thang be|ong|ba|"
    r"nguoi|chu|anh|thang|gia|thay|co|ke|bon|nhom|tui)",
    r"(?:thang|con) (?:cu|ut|be|nho) \w+",
    r"(?:mot|1) (?:be|chau|em|dua tre|dua be|dua nho|ban|hoc sinh|con be|thang be|chi|co be)",
    rf"{_KIN} (?:toi|em|minh|tui|no|ay|kia|do|nha ben|hang xom|chau|cua em|cua toi|cua chau)",
    r"(?:tui|bon|dam|nhom) (?:no|ban|lop tren|lop|ho|chung no|con trai|con gai)",
    r"\d+ ?(?:tuoi|t)|co (?:dua|thang|con|nguoi|ong|ba|ai|ga|lao|tay) (?!nao|the|duoc)\w+|"
    r"(?:em|con|chau|be|no|toi|tui|minh) (?:moi |dang |hoc |o )?lop \d+",
    r"(?:may|vai|hai|ba|nhieu|\d+) (?:dua|chau|be|em|dua tre|dua nho|tre|hoc sinh)",
    r"(?:chu|ong chu|ba chu|ma ma) (?:xuong|quan|nha hang|lo|tiem|trai|mo|ruong|vuon|tau)",
    r"be gai|be trai|co be|cau be|dua nho|thang nho|con nho|em hoc sinh|hoc (?:sinh|tro) (?:cua )?(?:toi|minh|em|lop)|"
    r"lop (?:toi|minh|em|con) co|nha (?:toi|em|minh) co|(?:nguoi|ong|gia|thang|ga|lao|han|ba|mu) (?:dan ong|la|do|kia|ay|ta|nay)",
)
_VICTIM_VOICE = _rx(
    r"(?:toi|em|minh|tao|con|chau|tui|no|ban em|ban con) (?:da |vua |dang |cu |hay |lai |moi |bi )*bi",
    # a named child: "bé Na bị…", "cái Lan bị…", "thằng Tí bị…"
    r"(?:be|cai|thang|con|chau|ban) (?!tre |nit |nguoi |cai )\w+ (?:da |vua |dang |cu |hay |lai |moi )*bi",
)

# --- harm --------------------------------------------------------------------
_DANH = (
    r"danh(?! (?:gia|dau|thuc|rang|bong|may|chu|tinh|sach|ba|hieu|du|nghia|tieng|phan|muc|tu|lua|"
    r"bac|bai|vo|con quay|cap|trong|dan|co|vo cam)\b)"
)
_HARM_VERB = (
    _DANH + r"|dap|tat|dam|bop co|xich|troi tay|troi chan|di thuoc|chich dien|bao hanh|bao luc|"
    r"hanh ha|nguoc dai|chui|mang|lam nhuc|si nhuc|de doa|doa|nhot|khoa|bo doi|bo mac|bo roi|"
    r"ep|bat|tra tan|phat quy|so|so mo|sam so|hiep|hiep dam|cuong hiep|cuong dam|dam o|xam hai|"
    r"quay roi|giao cau|om hon|du|lua|ru|doi anh|doi tien|tong tien|bat nat|treu|che gieu|co lap|"
    r"tay chay|danh hoi dong|xuc pham|boi nho|ban|ga|dua|dan|bat coc|lam hai|hai|gia hai"
)
# Single harm words: count only with a strong concrete anchor.
_HARM_WORD = _rx(
    _DANH + r"|lam chuyen|chuoc ruou|ep uong|cho (?:\w+ ){0,2}uong (?:ruou|bia)|ngu chung|ngu cung giuong|bi mat cua|cho kin|vung kin|lo anh|"
    r"khen xinh|hoi dia chi|xin dia chi|xin so dien thoai|gui qua|tang qua|chuyen tien|nap game|cho tien|"
    r"quat mang|mang nhiec|dap pha|dap do|nem do|say xin|"
    r"dang anh|day (?:\w+ )?xuong|dap cua|pha cua|duoi danh|lam nhuc|(?<!xe )dap|tat|chui|nhot|doa|ep|bat nat|xam hai|bao luc|so|quan he|gui hinh|gui anh|vet bam|"
    r"bam tim|dau rat|chay mau|roi may|that lung|cay|gay|kim|xich|(?<!qua )(?<!ong )(?<!bau )(?<!ngoai )troi|"
    r"hiep|bo roi|bo mac"
)
# "bị" + something that is not an illness or a school matter, said of a concrete child.
_BENIGN_BI = frozenset(
    "om sot ho cam dau benh can thi viem di ung tao bon tieu chay say mat mat stress tram cam "
    "roi diem thieu beo gay coi con trung muoi ran giun nhiem hen sau sún sun tu ky adhd tang dong "
    "cham chua mun nam lac hoang chong mat nac nghen the thuong khong kem nga trat trot va boc "
    "ngo dong lanh nong phong bong hoi truot luu ban".split()
)
_BI_ANY = re.compile(r"\bbi (\w+)")
_HARM_PASSIVE = re.compile(rf"\bbi {_W}{{0,3}}?(?:{_HARM_VERB})\b")
_HARM = _rx(
    # sexual
    r"so (?:vao |soang |mo |nan |len |nguoi )?(?:nguoi|vung kin|cho kin|nguc|mong|dui|chim|vu|ben duoi|quan|em|con|chau|be)",
    r"sam so|so mo|hiep dam|hiep|cuong hiep|cuong dam|dam o|xam hai|quay roi|giao cau|lam hai|gia hai",
    r"om hon|hon (?:len |vao )?(?:moi|ma|co|nguoi)|ngoi (?:len )?dui|coi (?:\w+ )?(?:quan|ao|do)|"
    r"keo quan|tut quan|lot quan|lot do|vung kin|cho kin|co thai|mang thai",
    r"(?:bat|cho|ep|ru) (?:\w+ ){0,2}(?:xem|coi) (?:\w+ ){0,2}(?:phim|clip|anh|hinh|cung)",
    r"phim (?:den|sex|nguoi lon|khieu dam|do)|loi le (?:khiem nha|tuc tiu|gho|bay ba|dam o)|"
    r"(?:gap|di choi|di|uong) (?:\w+ ){0,2}rieng|giu bi mat|tang qua",
    # luring, online exploitation, sextortion
    r"du (?:\w+ ){0,3}(?:quan he|gui|vao|gap|di|len|ngu|chup|cho|lam)|du do|lua (?:\w+ ){0,2}(?:di|sang|qua|gap|gui)",
    r"(?:doi|xin|bat|ep|doa|du) (?:\w+ ){0,3}(?:gui|chup|quay) (?:\w+ ){0,2}(?:anh|hinh|clip|video)",
    r"(?:anh|hinh|clip|video) (?:nong|nude|khoa than|nhay cam|tam|kin|sex)|anh nong|nude|khoa than",
    r"(?:doa|se|dinh|de doa|doi) (?:\w+ ){0,3}(?:tung|phat tan|dang|gui|lo) (?:\w+ ){0,4}(?:anh|hinh|clip|video|len|cho)",
    r"tung anh|tung clip|quay clip|quay len|dang len (?:nhom|mang|facebook|tiktok|zalo)|tong tien|"
    r"doi (?:\w+ )?(?:tien|trieu|nghin|nap the)",
    # violence and humiliation
    rf"bao hanh|bao luc|nguoc dai|hanh ha|danh dap|danh hoi dong|bat nat|tra tan|phat quy|"
    rf"{_DANH} (?:\w+ ){{0,2}}(?:tim|bam|chay mau|sung|gay|ngat|chet|nhu|bang|ca ngay|moi ngay|suot|hoai)",
    rf"(?:{_DANH}|(?<!xe )dap|tat|dam|chui|doa|nhot|om|hiep|bop co|tat vao|dam vao) (?:\w+ )?{_PRON}",
    r"tat (?:vao )?(?:mat|ma)|da (?:vao|vo|bung|dit|mat)|chui (?:\w+ ){0,3}(?:la|bang|ngu|do|suot|moi ngay)|"
    r"do con hoang|do an hai|lap (?:group|nhom) (?:\w+ )?chui|che gieu|co lap|tay chay",
    # neglect, labour, marriage, trafficking
    r"bo doi|bo mac|bo roi|bo bo|khong cho (?:\w+ ){0,2}(?:an|di hoc|hoc|ve|ra ngoai|ngu)|an (?:com )?thua|"
    r"de (?:\w+ ){0,4}o nha (?:mot minh|1 minh)|ngu ngoai (?:chuong|duong|hien)",
    r"(?:ep|bat|buoc) (?:\w+ ){0,2}(?:lay chong|lay vo|cuoi|di lam|lam viec|lam het|nghi hoc|chan (?:trau|bo|de|vit|ga|heo|lon)|ban|"
    r"xin an|an xin|di lam thue|bo hoc|uong ruou|nop tien|lam o|ngoi|lam)",
    r"ga (?:\w+ ){0,4}(?:cho|di|lay)|ep cuoi|tao hon|giu giay to",
    # told to keep it secret, or threatened for telling: the hallmark of grooming and abuse
    r"(?:bao|dan|bat|noi|doa|keu|biu|dan do) (?:\w+ ){0,2}(?:dung|khong duoc|cam|chang duoc) (?:\w+ )?(?:noi|ke|bao|ho) "
    r"(?:\w+ )?(?:voi|cho|ra|ai)|neu (?:em|con|chau|toi|tui|minh) (?:\w+ )?(?:ke|noi|bao|to) (?:\w+ )?(?:ra|voi|cho) "
    r"(?:\w+ ){0,4}thi",
    r"cho (?:\w+ ){0,2}(?:lay chong|lay vo|cuoi chong)|phat (?:dung|quy|chay) (?:\w+ ){0,4}(?:nang|mua|vong|tieng|gio|ngoai)|"
    r"quynh (?:toi|tui|em|con|no|chau|be)",
    r"(?:ban|dua|dan|du|lua|mang) (?:\w+ ){0,3}(?:sang|qua|ra) (?:trung quoc|tq|bien gioi|cam pu chia|campuchia|lao|nuoc ngoai)",
    r"bat coc|tien chuoc|(?:hoi )?mua (?:\w+ ){0,4}(?:con|be|chau|dua nho) (?:\w+ ){0,7}(?:trieu|tien)|"
    r"ban (?:dua )?(?:con|be|chau) (?:\w+ ){0,2}(?:lay tien|cho|duoc)",
    r"ga gam|ga (?:\w+ )?(?:quan he|ngu|tinh|di nha nghi)|(?:muon|doi|ep|ru|du) (?:\w+ ){0,2}quan he|"
    r"quan he (?:voi )?(?:em|con|chau|be|no)|khong mac (?:ao|quan|do|gi)|coi do|coi het|"
    r"hua (?:\w+ ){0,4}(?:neu|de|mien la)|lam thue|lo gach|(?:phai|bat|bi) (?:\w+ )?(?:nghi hoc|bo hoc) (?:\w+ )?(?:di lam|lam)|"
    r"xe vo|nhan tin (?:\w+ ){0,2}(?:khieu dam|tuc tiu|sex|ga gam|bay)|khieu dam",
    # wider lexicon of harm (violence, sexual, neglect, labour, online), used with anchors
    r"veo|nheo|bat tai|vut|quat|day nga|xo nga|dim (?:\w+ )?(?:nuoc|dau)|dot|giat toc|tum toc|"
    r"be tay|can choi|day dien|day nit|that lung|roi mây|roi may|tham tim|bam dap|u dau|rach|"
    r"mang chui|quat thao|si nhuc|lang ma|chi chiet|duoi (?:\w+ )?ra khoi nha|nhin doi|nhin an|de doi",
    r"vuot ve|mo mam|dung cham|gio tro|lam bay|lam chuyen (?:do|nguoi lon|xau|bay)|lot do|khoe (?:chim|cho kin)|"
    r"lam dung|xam pham|hai (?:em|con|chau|be|no)|co bau|mang bau|ham hiep",
    r"tran lot|xin deu|chan duong|giat do|bat nop|bieu danh|beu xau|ghep anh|hack|"
    r"chuyen tien|nap the|viec nhe luong cao|moi gioi|bat vo|keo vo|lang thang|an xin|"
    r"khong (?:ai|co ai) (?:cham|lo|nuoi|cho an)|khong (?:cham soc|nuoi|cho an)|khong (?:duoc )?(?:cho )?di hoc|khong tra luong|"
    r"(?:con|chau|be|em|no|minh|toi) phai (?:\w+ ){0,2}(?:di lam|nghi hoc|bo hoc|ban hang|ban ve|phu|lam thue|lam viec|lam cong)|"
    r"phu (?:quan|ban|ho)|quan nhau|karaoke|lam (?:den|toi|tu sang den) (?:khuya|nua dem|dem|toi)|nua dem|"
    r"lam cong|cong truong|mo (?:vang|da|than)|bai vang|khuan vac|chan trau|hai che|"
    r"(?:anh|chu|nguoi|ban|thang|ong) (?:\w+ ){0,2}(?:tren|qua) (?:mang|facebook|zalo|game|tiktok|fb)|"
    r"video call|goi video|(?:bat|mo) (?:cam|camera|webcam)|hen (?:\w+ )?(?:gap|ra|di)|"
    r"phu ho|ban ve so|lam osin|giup viec|bung be|lam tu sang|lam (?:den|toi) (?:khuya|dem)",
    # regional and wider vocabulary: violence, burns, sexual euphemisms, voyeurism, labour
    r"bat tai|tat tai|vut|quat (?:\w+ ){0,2}(?:roi|that lung|day)|da (?:vao|vo|bung|nguoi|ngang|lien tuc)|"
    r"dam (?:vao|vo|mat|bung|nguc|lien tuc)|cau (?:veo|tim|bam)|troi (?:\w+ ){0,2}(?:lai|vao|tay|chan|o)|"
    r"(?:hat|tat|do|doi) (?:\w+ ){0,2}nuoc soi|nuoc soi|(?:di|gi|dot|chich) (?:\w+ ){0,2}(?:lua|tan thuoc|dieu|bat lua|dien)|"
    r"(?:bo|nhin) (?:\w+ ){0,2}doi|nhet (?:\w+ ){0,2}(?:mieng|gie)|"
    r"so soang|so (?:\w+ ){0,2}(?:cho do|vung nhay cam|cho nhay cam)|vung nhay cam|cho nhay cam|dong cham|dung cham|"
    r"(?:coi|cuoi|thao|lot) (?:\w+ ){0,2}(?:quan|ao|do|dong)|nhin (?:\w+ ){0,2}(?:tam|thay do)|nhin trom|nhin len|"
    r"chup (?:\w+ ){0,3}(?:len|trom|luc tam|khi tam)|quay len|camera (?:\w+ )?nha tam|"
    r"lam chuyen (?:do|ay|nguoi lon|vo chong|xau|bay)|chuyen nguoi lon|giu (?:\w+ )?bi mat|bi mat (?:\w+ ){0,3}(?:cho|tien|qua)|"
    r"(?:xin|di) (?:\w+ ){0,2}(?:tien|an) (?:\w+ ){0,2}(?:cho|ngoai|o|duong|ben)|di xin|"
    r"(?:ru|moi|gioi thieu|hua) (?:\w+ ){0,4}(?:sang|qua|ra|len) (?:\w+ ){0,2}(?:trung quoc|tq|bien gioi|cam pu chia|campuchia|lao|nuoc ngoai|thanh pho|sai gon|ha noi)|"
    r"(?:ru|moi|goi|bao) (?:\w+ ){0,3}(?:lam viec|di lam) (?:\w+ ){0,3}(?:luong cao|nhieu tien|de)",
    r"(?:doi|xin|bat|ep) (?:\w+ ){0,2}(?:xem|coi|nhin|cho xem) (?:\w+ ){0,2}(?:cho do|cho kin|vung kin|nguoi|than the|nguc|anh|hinh|body)|"
    r"an don|an roi|danh vao (?:mong|dit|dau|mat|tay|chan|lung|nguoi|bung)|bit mieng|"
    r"(?:khong|neu khong) thi (?:\w+ ){0,2}(?:tung|dang|gui|phat tan|bao|danh|giet)|lan roi|vet lan|ngoi len dui",
    r"(?:dan|du|keo|loi|goi|bat|ru|dua) (?:\w+ ){0,3}vao (?:nha|phong|lan|nha nghi|khach san|bui|kho|xe|hem|rung|nha ve sinh)"
    r"|dong cua lai|cho (?:keo|qua|tien) (?:\w+ ){0,3}(?:roi|xong)",
)

# --- anchors ---------------------------------------------------------------------
_TIME = _rx(
    r"da|vua|vua moi|moi day|hom qua|hom kia|hom nay|hom truoc|hom bua|toi qua|dem qua|sang nay|"
    r"chieu nay|trua nay|toi nay|dem nay|luc nay|ban nay|nam nay|nam ngoai|tu nay|nay gio|dang",
    r"(?:tuan|thang|nam|hoi) (?:truoc|roi|nay|qua)|"
    r"(?:may|vai|mot|hai|ba|\d+) (?:hom|ngay|tuan|thang|nam|lan|buoi|toi|dem|tieng) (?:nay|qua|truoc|roi|lien)",
    r"dao nay|gan day|thoi gian nay|lan nao|nhieu lan|may lan|thuong xuyen|suot|lien tuc|hang ngay|"
    r"ngay nao cung|dem nao cung|moi ngay|moi khi|moi lan|ca ngay|ca dem|suot ngay|hoai|"
    r"cu|luon|thuong|van|lai bi|hay (?=bi |danh|chui|dap|tat|doa|nhot|bat|ep|so |om|hon|sam|nhan tin|goi|ru|cho|"
    r"dua|dan|treu|che|uong|say|ve|dem|lam|nhin|khoc|tron|mang|quat|phat|vao|keo|sờ)|tu (?:hom|khi|luc|nam|thang|hoi|sang|chieu|trua|toi)",
)
_NARRATIVE = _rx(
    r"(?:be|con|chau|em|no|ban) (?:\w+ ){0,3}(?:ke|khai|noi) (?:la |rang )?(?:co|thay|ong|ba|chu|bac|anh|chi|bo|me|ba|cha|duong|nguoi|no|ho)",
    r"phat hien|moi biet|nghe (?:noi|ke)|(?:toi|em|minh|tui) nghi|vet (?:roi|bam|thuong|cao|bong)|ke (?:la|voi|lai|rang)|ve nha ke|noi (?:la|voi toi|voi em|rang)|"
    r"thu nhan|tam su|nhin thay|thay (?:co|vet|no|con|be|chau)|bat gap|chung kien|nghi (?:la|ngo)|"
    r"toi la (?:giao vien|co giao|thay giao|me|bo|hang xom)",
)

# An agent doing something to a victim ("thầy dạy thêm sàm sỡ em", "dượng đuổi em
# ra khỏi nhà"): a person noun before the harm and a victim word after the person.
_AGENT = _rx(
    _KIN,
    r"me ke|di ghe|bo ghe|cha ghe|bo duong|cha duong|duong|anh ho|chi ho|ban trai|nguoi yeu|"
    r"(?:ong|ba|chu|bac|anh|chi|co|thay|thang|con|ga|lao|mu|nguoi) (?:ay|ta|kia|do|nay|la|hang xom|chu|quen)|"
    r"nguoi (?:la|quen|dan ong|lon)|ke la|hang xom|giao vien|bao mau|co giao|thay giao|chu nha|ong chu|ba chu|"
    r"tui no|bon no|chung no|dam ban|nhom ban|tui ban|ca lop|lop tren|dan anh|dai ca|co nguoi|mot nguoi|"
    r"no|ho|han",
)
_VICTIM = _rx(
    r"em|con|chau|be|toi|tui|minh|tao|no|thang be|con be|thang nho|con nho|dua nho|ban em|ban con|"
    r"con gai|con trai|em gai|em trai|hoc sinh",
)


def _agent_act(text: str, harm: re.Match[str] | None) -> bool:
    """A person noun before the harm and a victim word other than that person."""
    if harm is None:
        return False
    agent = _AGENT.search(text, 0, harm.end())
    if agent is None:
        return False
    return any(v.start() >= agent.end() or v.end() <= agent.start() for v in _VICTIM.finditer(text))


# --- guidance frames ---------------------------------------------------------------
_KNOWLEDGE_Q = _rx(
    r"(?<!biet )(?<!biet phai )(?:lam sao|lam the nao|the nao) (?!(?:bay gio|gio|day|a|ha|nhi|vay|the|ban|ad|oi|duoc|khong)\b)\w+",
    r"lam sao (?:de|biet|nhan biet|phat hien|phong|tranh|day|noi|giup|cho|ngan)",
    r"lam the nao de|lam the nao biet|the nao (?:la|thi duoc)|(?<!biet )co phai la|la gi|nghia la",
    r"dau hieu|nhan biet|bieu hien|nhan ra|phat hien som|tai sao|vi sao|tai vi sao|ly do",
    r"(?:111|113|115) hay (?:111|113|115)|goi so nao|goi ai(?! (?:bay gio|gio|day|bh)\b)|bao ai|bao o dau",
    r"cach(?! (?:\w+ )?(?:chet|tu tu|tu sat))|ngan (?:chan|ngua)|kieu gi|kieu nao|thu doan|chieu tro|xu ly sao|sao cho|khoi phai|thay vi|"
    r"may (?:lan|phut|giay|tuoi|tieng|gio)(?! (?:nay|qua|truoc|roi|lien))|(?:\w+ )thi (?:em|con|toi|minh|ban )?(?:nen|phai) lam (?:gi|sao)$|"
    r"dau hieu (?:\w+ ){0,3}(?:la gi|gi|nao)",
    r"phong (?:tranh|ngua|chong|bi|khi)|de phong|ngan ngua|ngan chan|tranh (?:bi|cho|de|xa)",
    r"(?<!biet )co phai (?!la )|co nen|nen (?:day|noi|cho|de|phan ung)|nen lam (?!gi\b)|co duoc (?:phep)?|co bi (?:phat|xu ly|tu|sao)|"
    r"bi phat(?! (?:dung|quy|chay|nhin|quat|danh))|phat bao nhieu|xu phat|muc phat|quy dinh|luat|dieu luat|nghi dinh|bo luat|toi gi|toi danh (?:gi|nao|la)|"
    r"trach nhiem|quyen|tuoi nao|bao nhieu|may tuoi thi|toi da|toi thieu",
    r"day (?:con|tre|be|cac con|hoc sinh|chau)|noi (?:voi|chuyen voi) (?:con|tre|be)|giai thich|tro chuyen",
    r"ky nang|kien thuc|tai lieu|chuong trinh|tuyen truyen|ke hoach|quy trinh|thu tuc|bieu mau|"
    r"xa (?:phai|can|co)|tiep nhan|danh gia nguy co|truong hop nao",
    r"anh huong (?:gi|the nao|ra sao|nhu the nao|den|toi)|tac hai|hau qua|co bi coi la|dung hay sai",
    # "làm răng biết" (Central), "nàm sao" (typo); "có tính là … không", "cho em hỏi"
    r"(?:lam|nam) (?:sao|rang) (?:de |ma )?(?:biet|nhan biet|phat hien|nhan ra)|"
    r"co (?:bi |duoc )?(?:tinh|coi|xem) la|co bi cam|cho (?:\w+ )?hoi|xin hoi|cho nao|noi nao|rui ro|vi pham|pham luat|trai luat|hop phap",
)
_LEADING_Q = re.compile(
    r"^(?:\w+ ){0,2}(?:dau hieu|lam sao (?:de|biet|nhan biet|phat hien)|lam the nao de|cach (?:nhan biet|phat hien|phong|day|giup)|"
    r"tai sao|vi sao|phong tranh|phong ngua|bieu hien|nhan biet|thu doan|quy dinh|luat)\b"
)
_CONDITION = _rx(
    r"khi|neu|lo|nhu lo|gia su|gia nhu|truong hop|phong khi|mot khi|"
    r"so|lo so|lo lang|lo ngai|e rang|de khong|de tranh|co the|co kha nang|nguy co|de bi",
)
_GENERIC_CHILD = _rx(
    r"tre|tre em|tre nho|tre con|cac con|con cai|cac chau|cac em|hoc sinh|thieu nhi|vi thanh nien|"
    r"mot dua tre|dua tre|con nit|nguoi ta|ai do|nguoi khac|nguoi nao",
)

# --- urgent --------------------------------------------------------------------------
_SUICIDE = _rx(
    r"muon chet|muon tu tu|tu tu|tu sat|khong muon song|chang muon song|het muon song|chan song|"
    r"song (?:de )?lam (?:gi|chi)|chet (?:cho|di cho) (?:xong|roi|nhe)|chet quach|se chet|"
    r"ket thuc (?:cuoc doi|cuoc song|tat ca|moi thu|het)|bien mat (?:mai mai|khoi)|"
    r"nhay (?:lau|cau|song)|(?:dung|ngoi|leo) (?:\w+ ){0,2}(?:cau|lau|noc|san thuong) (?:\w+ ){0,4}nhay|"
    r"treo co|day thung|uong (?:\w+ ){0,3}(?:thuoc ngu|thuoc chuot|thuoc sau|thuoc tru sau|vi thuoc|het thuoc)|"
    r"rach tay|cat tay|cua tay|tu lam dau|tu hai|khong thiet song|khong con muon|muon ra di|"
    r"khong con ly do|nhan tin tam biet|loi tam biet|de lai thu|"
    r"(?:moi thu|tat ca|cuoc doi|cuoc song) (?:\w+ ){0,2}ket thuc|ket thuc (?:o day|tai day)|"
    r"khong (?:muon |can )?(?:day|thuc day|tinh day) nua|ngu (?:mai mai|luon khong)|khong con thiet",
    r"(?:muon|se|dinh|chi muon) (?:\w+ ){0,2}bien mat|vinh biet|khong muon (?:\w+ ){0,2}(?:ton tai|o tren doi)|"
    r"chan (?:\w+ ){0,2}(?:cuoc doi|doi|the gioi) (?:nay|lam|qua)|muon (?:\w+ ){0,2}(?:di theo|ra di|giai thoat|ngu mai)|"
    r"(?:uong|nuot) (?:\w+ ){0,2}(?:ca|het|nhieu|ca vi|ca lo|mot nam|mot vi|ca hop) (?:\w+ ){0,2}thuoc|(?:dinh|muon|se|sap) (?:\w+ ){0,2}(?:nhay|treo|uong thuoc|rach|cat)|"
    r"(?:khong|chang) (?:ai|con ai) (?:\w+ ){0,3}(?:can|thuong|quan tam) (?:em|con|toi|minh|tui)|de lai (?:thu|loi)",
    r"(?:dang |da )?(?:dung|ngoi|leo|treo) (?:len |tren |o |ra )?(?:\w+ )?(?:san thuong|lan can|thanh cau|mep (?:cau|tang|san|vuc|ho|song|ao|suoi|nui|doc|bien))|"
    r"dung tim (?:em|con|toi|minh|tui|tao)|(?:cach|nghi) (?:\w+ ){0,2}(?:chet|tu tu)|chet cho (?:xong|roi|nhe|khoe)|"
    r"tam biet (?:ca nha|bo me|ba me|ba ma|tat ca|the gioi|moi nguoi)",
    # a farewell: "tạm biệt, em đi đây", "cảm ơn mọi người thời gian qua"
    r"(?:tam biet|vinh biet)(?: \w+){0,3} (?:em|con|minh|toi|tui) di day$|"
    r"cam on (?:moi nguoi|ca nha|tat ca|bo me|ba me) (?:\w+ ){0,3}(?:thoi gian qua|vi tat ca|vi moi thu)",
)
_HELP_NOW = _rx(
    r"cuu (?:voi|toi|em|con|chau|be|minh|tui|tao|giup|gap)(?! (?:nguoi|tre|duoi|ho|hoa|thuong|ban))",
    r"cuu (?:\w+ )?voi$|cuu voi|khan cap|help|lam gi day|(?:phai )?lam sao day|gap lam|nhanh len|nhanh giup|ngay lap tuc|"
    r"(?:bay gio|gio) (?:phai )?lam (?:sao|gi)|lam sao bay gio|sos|help me|^gap|hoang qua|^(?:\w+ )?cuu(?: \w+)?$",
)
_HELP_WEAK = _rx(r"giup (?:\w+ ){0,2}voi$|giup voi|giup (?:toi|em|con|chau|minh|tui|tao|be) voi|giup (?:toi|em|con|chau|minh) gap")
_NOW = _rx(
    r"dang|ngay bay gio|bay gio|gio|luc nay|hien gio|hien tai|ngay luc nay|toi nay|dem nay|chieu nay|lat nua|"
    r"sap|chuan bi|ngay mai|sang mai|vai tieng nua|may tieng nua|tu sang|tu chieu|tu trua|tu toi|tu hom qua|"
    r"tu nay|nay gio|vua|roi$|\d+ tieng (?:roi|nay|qua)",
)
_ABDUCT = _rx(
    r"bat coc|tien chuoc|bat (?:\w+ ){0,2}di(?! (?:hoc|lam|ban|ngu|an|choi|tam|xin|chan|phu|cat|hai|gat|nhat|don|giu|rua|ganh|cho|mua|ngu|lay|quet|nau|giau|nhau|ve))|"
    r"(?:keo|loi|bong|om|dat|vac) (?:\w+ ){0,3}di\b(?! (?:hoc|choi|tam|an|ngu|kham|tiem))|cho (?:\w+ ){0,2}di dau|"
    r"(?:keo|loi|dua|bat|vac) (?:\w+ ){0,3}vao (?:nha hoang|bui|rung|hem|xe|kho)|lay (?:\w+ )?(?:dien thoai|dt) cua (?:em|con|toi|minh|chau)|"
    r"(?:be|bat|keo|loi|dua|cho|du|ep) (?:\w+ ){0,3}(?:len xe|len o to|len oto|chay mat|di mat|vao bui|vao nha nghi)",
    r"(?:dua|dan|ban|mang|cho) (?:\w+ ){0,3}(?:qua|sang|vuot) (?:bien gioi|trung quoc|tq|campuchia|cam pu chia|lao)",
)
_DANGER = _rx(
    r"mat tich|khong thay (?:\w+ ){0,2}(?:dau|tam hoi|ve)|chua (?:\w+ )?(?:ve|thay)|khong ve nha|"
    r"khong lien lac duoc|mat lien lac|lac mat|di lac|tre lac|bi lac|lac (?:me|bo|ba|nguoi nha|gia dinh)|tim khong thay|khong tim thay|"
    r"chay tron|tron (?:ra|thoat) (?:duoc|khoi)|dang tron|dang (?:di )?tim (?:em|con|toi|chau)",
    r"(?:di theo|bam theo|rinh|theo doi|cho|doi) (?:\w+ ){0,2}(?:em|con|toi|chau|be|minh) (?:ve|o|ngoai|truoc)",
    r"xich (?:chan|tay|lai|co)|troi (?:chan|tay|lai)|"
    r"(?<!tu )nhot (?:\w+ ){0,3}(?:trong|lai|o|vao)|bi nhot|khoa (?:\w+ ){0,2}(?:trong|lai)|bi xich|bi troi|bi giam",
    # water, body
    r"duoi nuoc|chet duoi|bi duoi|(?:roi|rot|lot|nga|te) (?:\w+ )?(?:xuong|xuong duoi) (?:ao|ho|song|gieng|suoi|be|muong|kenh|bien|nuoc)|"
    r"(?:roi|rot|lot|nga|te) (?:xuong )?(?:ao|ho|song|gieng|suoi|be nuoc|muong|kenh)|(?<!nguoi dang )chim (?:xuong|duoi|nghim|o|trong|giua|roi|mat)|khong (?:thay )?noi len|"
    r"nuoc cuon|bi cuon|troi (?:tren|theo|ra|xuong|giua) (?:\w+ )?(?:suoi|song|nuoc|bien|ho|lu)|"
    r"vot (?:\w+ )?len|keo (?:\w+ )?len",
    r"khong tho|ngung tho|tat tho|bat tinh|khong tinh|ngat xiu|li bi|tim ngung|tim khong dap|tim tai|"
    r"nuot (?:phai |nham )?(?:\w+ )?(?:pin|dong xu|hat|do choi|nam cham|thuoc)|hoc (?:di vat|xuong|hat)|"
    r"(?:ran|cho|ong) (?:\w+ )?can|kho tho|tim tai|lim|chay mau nhieu|mau chay|co giat|dien giat|bong nang|ngo doc|uong nham|an nham|nga tu tang",
    # threats with weapons
    r"doa giet|giet|danh chet|cam dao|cam gay|cam keo|chem|dam dao|bop co",
    r"chay nha|hoa hoan|mui khet|khoi (?:bay|boc|mu|den)|bi giu (?:\w+ ){0,3}(?:trong|lai|o)|"
    r"xe (?:tong|dam|can)|tai nan|mac ket|ket trong|lu cuon|nuoc lu|bien tam|"
    r"di dau mat|khong nghe may|tat may|vinh biet|ganh nang|khong ai can|xin loi (?:moi nguoi|bo me|ca nha)",
)
_ONGOING = re.compile(
    # "đang" but not "đăng" (post) or a plan ("đang tính bán" tells of a plan, not an act)
    rf"\b(?:dang|van dang|luc nay|bay gio|ngay bay gio|tu nay|nay gio) "
    rf"(?!(?:len|anh|bai|clip|video|tai|ky|nhap|hinh|tin|story|tinh|dinh|muon|nghi|can nhac)\b)"
    rf"{_W}{{0,3}}(?:bi )?(?<!len )(?:{_HARM_VERB}|keo|loi|doa|dua|dan|chui|ep|duoi|dap cua|pha cua|theo|rinh|cam|say|dot|chay|"
    rf"chim|duoi nuoc|chay mau|co giat|ngat|sot cao)\b"
)
_SOON_EXTRA = _rx(
    r"(?:se|sap|dinh|hen|doi) (?:\w+ ){0,3}(?:xu|xu ly|chan|cho|danh|giet|bat|don|dua di)(?: \w+){0,3} (?:em|con|tao|toi|minh|tui|no|may)",
)
_SOON = re.compile(
    r"\b(?:se|sap|dinh|doi|hen|ru|bat) (?:\w+ ){0,4}(?:" + _DANH + r"|giet|bat|dua|ban|gap|den|don)\b"
    r".*\b(?:toi nay|dem nay|chieu nay|sang mai|ngay mai|bay gio|luc nay|ngay)\b"
    r"|\b(?:toi nay|dem nay|chieu nay|sang mai|ngay mai|lat nua)\b.*\b(?:se|sap|dinh|hen|bat|den|toi|qua) (?:\w+ ){0,4}(?:"
    + _DANH + r"|giet|bat|dua|ban|gap|den|don|chet)\b"
)
_CRYING_NOW = _rx(
    r"(?:dang|van dang|van) (?:\w+ )?(?:la het|keu cuu|khoc thet|gao khoc|keu la|la (?:het|len|om)|keu|khoc)|kia$"
)
_SOON_TIME = _rx(r"tan hoc|ra ve|ra choi|sau gio hoc|toi nay|dem nay|chieu nay|lat nua|sang mai|ngay mai|mai|bay gio")
_URGENT_NOW = _rx(r"dang|bay gio|toi nay|dem nay|luc nay|ngay luc nay|lat nua|ngay bay gio")
_SUSPECT = _rx(r"nghi (?:la|ngo|rang)|(?:toi|em|minh|tui) nghi(?! (?:hoc|lam|viec|phep|ngoi|tet|he|om|trua))|hinh nhu|co ve|khong biet co")
_PAST = _rx(
    r"nam (?:ngoai|truoc|roi)|(?:tuan|thang|hoi|luc|hom|dot) truoc|ngay xua|luc nho|hoi nho|"
    r"tu lau|da lau|ke lai|ve nha ke|(?:may|vai|\d+) (?:thang|nam) (?:truoc|roi)"
)
_FEAR_NOW = _rx(r"(?:em|con|toi|chau|minh) (?:dang |rat |that )?(?:so|hoang) (?:lam|qua|chet|kinh)")

# --- now or a pattern? -------------------------------------------------------------------
# The same harm is an emergency when it is happening or has just happened ("đang đánh",
# "vừa bị", a child bleeding or hiding now) and a disclosure when it is a pattern or an
# older story ("hay", "mấy tháng nay", "từ tết", "kể là"). These frames are grammar, not
# topics, so they carry over to messages no rule has seen.
_HABITUAL = _rx(
    r"hay (?!la\b|khong\b|chua\b|qua\b|lam\b|nhi\b|ho\b|ghe\b|thi\b)",
    r"thuong xuyen|thuong hay|ngay nao cung|dem nao cung|moi ngay|moi dem|moi lan|moi khi|nhieu lan|"
    r"(?:may|vai|mot|hai|ba|bon|nam|\d+) (?:nam|thang|tuan) (?:nay|roi|qua|lien)|"
    r"tu (?:tet|nam|thang|hoi|nho|lau|dau nam)|tu lau|da lau|lau roi|lau nay|(?:ke|bao|noi) (?:la|rang)|ke voi",
)
# Before today: an injury told with one of these is an older story.
_BEFORE_TODAY = _rx(
    r"(?<!tu )(?:hom qua|hom kia)|hom truoc|hom (?:chu nhat|thu \w+|tet)|(?:dau|cuoi)? ?tuan (?:truoc|roi)|"
    r"thang (?:truoc|roi)|nam (?:ngoai|truoc|roi)|hoi (?:truoc|nho)|luc nho|ngay xua|dip tet|tet (?:vua roi|nam ngoai)",
)
_TONIGHT_STRICT = _rx(r"toi nay|dem nay|lat nua|sang mai|ngay mai")
# "[situation] thì [question]": Vietnamese often drops "nếu", so this is a hypothetical
# ("bị ghép ảnh đăng lên mạng thì xử lý thế nào") unless a time anchors a real event.
_THEN_QUESTION = re.compile(
    r"\bthi\b(?: \w+){0,10} (?:gi|sao|nao|khong|ai|dau|chua|nhi|vay|a|ha|duoc|co|biet)$"
    r"|\bthi\b(?: \w+){0,4} (?:bao lau|bao nhieu|the nao|nhu the nao|lam sao|ra sao|o dau|lam gi)\b"
)
# Words that close a message without changing what it asks: particles and forms of
# address ("…được không chị", "…làm sao ạ bạn ơi").
_VOCATIVES = frozenset(
    "a ak oi chi anh ban ad admin bot co chu bac o nhe nha nhi ha day vay em con chau ba ong di cau".split()
)


def _unaddressed(norm: str) -> str:
    """``norm`` without the particles and forms of address that close it."""
    words = norm.split()
    while len(words) > 2 and words[-1] in _VOCATIVES:
        words.pop()
    return " ".join(words)
_EVENT_TIME = _rx(r"da|vua|dang(?! (?:len|anh|bai|clip|video|tai|ky|nhap|hinh))|hom qua|hom kia|hom nay|toi qua|dem qua|sang nay|chieu nay|luc nay|ban nay")
# A story the writer read or heard in the news is a question about a topic.
_NEWS = _rx(
    r"(?:doc|xem|coi|thay|nghe) (?:\w+ ){0,3}tren (?:mang|facebook|fb|tivi|tv|ti vi|tiktok|youtube|zalo|bao)|"
    r"doc bao|tren bao|bao (?:dua tin|dang tin|chi)|tin tuc|thoi su|phong su|dang tin",
)
# Everyday uses of scary words (the traps the labelling rules list): killed in a game,
# "nóng chết", "cứu em với bài này", a bicycle, a flat battery. They are cut out of the
# text before the harm and danger patterns look at it, so the rest still counts.
_DEFUSE = re.compile(
    r"\b(?:"
    r"(?:bi )?(?:giet|ban|chem|danh|chet|can chet|ha guc)(?: \w+){0,4} (?:trong|o|tai|choi) "
    r"(?:game|lien quan|free fire|pubg|ma soi|minecraft|roblox)|"
    r"(?:game|lien quan|free fire|pubg|ma soi|minecraft|roblox)(?: \w+){0,6} (?:bi )?"
    r"(?:giet|ban|chem|chet|can chet|headshot|ha guc)|"
    r"(?:nong|met|chan|doi|buon cuoi|cuoi|lanh|ngai|buon ngu|dau dau) chet(?: di duoc| mat| luon)?|"
    r"chet (?:di duoc|mat thoi|cuoi|met)|"
    r"(?:bi )?tra tan boi (?:\w+ ){0,2}(?:deadline|bai|viec|muoi|nong|nhiet|nang|tieng on)|"
    r"cuu (?:\w+ ){0,2}voi (?:\w+ ){0,2}bai (?:nay|tap|toan|van|kiem tra)|"
    r"xe dap|dap xe|danh cau long|danh bong ban|danh co|het pin|chay pin|chet may|hong (?:phanh|xe|may)|"
    r"nap the (?:\w+ )?(?:lien quan|free fire|game|pubg|garena)|cuu tinh|cuu canh"
    r")\b"
)
_ANIMAL = re.compile(r"\bcon (?:bo|cho|meo|heo|lon|ga|vit|trau|de|ngua|chim|ca|tho|cun)\b")
_PERSON_CHILD = _rx(r"be|chau|tre|em be|con|dua|thang|nho|hoc sinh|chi|anh|em")


def _animal_only(norm: str) -> bool:
    """The message is about an animal ("con bò nhà tôi bị lạc") and names no child."""
    if not _has(_ANIMAL, norm):
        return False
    return not _has(_PERSON_CHILD, _ANIMAL.sub(" ", norm))


_CHILD_FIRST = re.compile(r"^(?:be|tre|chau|con|thang be|con be|em be|thang nho|con nho|dua nho) ")
_LETHAL = _rx(
    r"(?:uong|nuot|an|nhay|cat) (?:\w+ ){0,5}(?:thi|se|co|moi) (?:\w+ )?chet(?! (?:may|di duoc))|"
    r"cach (?:\w+ ){0,2}(?:chet|tu tu) (?:\w+ )?(?:nhanh|khong dau|nhe nhang|de nhat)",
)
# "bây giờ" but not in "bây giờ phải làm gì" (what should I do now?), which asks for advice.
_TONIGHT = _rx(r"toi nay|dem nay|lat nua|sang mai|ngay mai|ngay luc nay|(?:ngay )?bay gio(?! (?:phai|lam|thi|nen|toi|em|minh|con)\b)")
_PREGNANT = re.compile(r"(?:co|mang) (?:thai|bau)")
# A bare kin noun first is the writer's own relative ("bố say rượu cầm dao…").
_KIN_FIRST = re.compile(r"^(?:bo|me|ba|cha|ma|bo duong|cha duong|duong|me ke|chu|cau|anh|ong) (?!me\b|oi\b)")
# Words after "vừa"/"đang" that tell of news received or a post, not of harm going on.
_NOT_NOW_AFTER = frozenset(
    "ke tam su noi nhan nghe phat hien biet doc thay hoc lam xong len ky nhap anh clip video bai tai".split()
)
_NOW_MARK = re.compile(r"\b(?:vua|dang|van dang|van con|con dang) (?:moi )?(?:bi )?(\w+)")
_INJURED_NOW = _rx(
    r"chay mau|mau (?:chay|nhieu|me)|gay (?:tay|chan|xuong|co)|khong (?:dung|ngoi|dung day|ngoi day|di|cu dong) "
    r"(?:\w+ )?(?:duoc|noi)|(?:xiu|ngat(?! veo)|bat tinh|li bi|lu du|lim|tim tai|co giat|khong tho|tho yeu)|"
    # poisoning: vomiting or foaming at this moment
    r"dang (?:non|oi)|non oi|(?:sui|soi) bot",
    # hiding right now, said by the one hiding ("em trốn trong nhà vệ sinh")
    r"(?:em|con|toi|tui|minh|chau|tao|chung em|tui nho|may dua nho|ca nha) (?:dang |phai )?"
    r"tron (?:trong|o|duoi|vao|sau|tren)|khong dam (?:ra|ve|mo cua|len tieng)|"
    r"(?:van|con|dang) (?:dang )?(?:o|ngoi|dung|cho|doi|rinh) (?:\w+ )?(?:day|ngoai|trong|truoc|cong|cua)|"
    r"le len|nhanh len|mau len|goi ai|dang dien ra",
)


def _first_harm(norm: str, start: int = 0, end: int | None = None) -> int | None:
    """Where the first harm, danger or suicide pattern in ``norm[start:end]`` begins."""
    end = len(norm) if end is None else min(end, len(norm))
    first = None
    for rx in (_HARM, _HARM_PASSIVE, _HARM_WORD, _DANGER, _SUICIDE):
        match = rx.search(norm, start, end)
        while match is not None and _PREGNANT.match(match.group(0)):
            match = rx.search(norm, match.end(), end)
        if match is not None and (first is None or match.start() < first):
            first = match.start()
    return first


def _happening_now(norm: str) -> bool:
    """"vừa"/"đang" right before a harm, or a child hurt or hiding at this moment."""
    if _has(_INJURED_NOW, norm) and not _has(_BEFORE_TODAY, norm):
        return True
    for mark in _NOW_MARK.finditer(norm):
        if mark.group(1) in _NOT_NOW_AFTER:
            continue
        at = _first_harm(norm, mark.start(), mark.end() + 80)
        if at is not None and at - mark.start() <= 30:
            return True
    return False


# --- report requests --------------------------------------------------------------------
_REPORT_VERB = (
    r"(?:to giac|to cao|bao tin|tin bao|trinh bao|bao cao|phan anh|khai bao|bao (?:cong an|canh sat|chinh quyen|"
    r"xa|phuong|ubnd|uy ban|vu viec|vu|mot vu|1 vu|(?:mot |1 )?(?:chuyen|truong hop|ca)|viec|"
    r"cho (?:cong an|xa|chinh quyen|ai|ban))|gui (?:don|tin bao|thong tin)|thong bao (?:vu|ve)|report|"
    r"don to giac|ghi nhan|cung cap (?:\w+ )?thong tin|bao (?:\w+ )?cho can bo)"
)
_REPORT_WANT = re.compile(
    rf"\b(?:muon|can|xin|cho (?:toi|em|minh|chau|con)|de nghi|dinh|phai|giup (?:toi|em|minh)|mo|tao|lam|lap|"
    rf"bat dau|gui) {_W}{{0,2}}{_REPORT_VERB}\b"
)
# "…ở đây / trên này / qua đây": the writer means this chat, so it is a request to report.
_HERE = _rx(r"o day|tren nay|qua day|tai day|voi ban|cho ban|voi bot|cho bot|bam (?:\w+ )?(?:vao )?dau|nut nao")
_REPORT_ANY = re.compile(rf"\b{_REPORT_VERB}\b")
_REPORT_BARE = re.compile(rf"^{_W}{{0,2}}{_REPORT_VERB}(?: \w+){{0,6}}$")
_REPORT_QUESTION = _rx(
    r"o dau|the nao|nhu the nao|ra sao|cach|so nao|so may|goi so|co bi lo|lo danh tinh|"
    r"co can|co phai|bao lau|sau khi|ai se|thu tuc|quy trinh|nghia vu|trach nhiem|muon biet|muon hoi|"
    r"tim hieu|lam sao|lam the nao|bai dang|facebook|len mang|tai khoan|qua zalo|qua (?:tin nhan|email|dien thoai)",
)

# --- small talk -------------------------------------------------------------------------
_SMALLTALK = _rx(
    r"xin chao|chao|hi|hello|helo|alo|a lo|hey|cam on|thank you|ok|okay|vang|da|u|uh|uhm|"
    r"bye|tam biet|hen gap lai|good morning|good night|chuc ngu ngon|ngu ngon|buoi sang|buoi toi|buoi chieu|"
    r"tot lanh|haha|hihi|hehe|ban la ai|ai day|ban ten (?:gi|la gi)|ten (?:ban|em) la gi|"
    r"ban (?:co the |giup duoc |lam duoc |biet )(?:gi|nhung gi|lam gi)|(?:lam|giup) duoc (?:gi|nhung gi)|"
    r"co ai (?:o do|khong)|nguoi that|nguoi hay may|la may|la bot|robot|khoe khong|"
    r"rat vui|tuyet voi|hay qua|tot qua|hieu roi|biet roi|ro roi|duoc roi|oi|"
    r"chuc (?:\w+ ){0,3}(?:vui ve|vui|suc khoe|ngu ngon|may man|tot lanh)|ngay moi|vui ve|(?:co phai )?nguoi that (?:khong|ha|a)?",
    r"ukm|um|hm|uk|he lo|hi hi|huu ich|gioi (?:qua|ghe|that|lam)|chet cuoi|hu hon|"
    r"ai (?:lam|tao|viet) ra|co ai (?:\w+ )?(?:o day|day) khong|mai (?:hoi|noi) (?:tiep|sau)|hoi (?:tiep|sau)",
)
_FILLER = frozenset(
    "ban bot ad admin oi a nhe nha em anh chi co chu bac moi nguoi minh toi nhieu lam rat ha vay the "
    "khong day ne voi la gi thi ak uk dung qua that thiet sang trua chieu toi ca may hay hieu roi "
    "cau nhe nhe nhi ay do nhen nghe ne ha nghen can bo chau con ba ong thong tin cai nay thoi mai tra loi".split()
)


def _has(pattern: re.Pattern[str], text: str) -> bool:
    return pattern.search(text) is not None


# True conditionals frame the whole message when they come first; worry words
# ("sợ", which folds like "sờ") only frame a "bị" right after them.
_IF = frozenset({"khi", "neu", "nhu lo", "gia su", "gia nhu", "truong hop", "phong khi", "mot khi"})


def _conditional(text: str, harm_start: int | None = None) -> bool:
    """A condition or worry frames the harm: at the start, or right before a "bị".

    A condition that comes after the harm ("ba dọa giết em nếu em nói") is the
    abuser's threat, not a hypothetical question.
    """
    words = text.split()
    for match in _CONDITION.finditer(text):
        if harm_start is not None and match.start() > harm_start:
            continue
        before = text[: match.start()].split()
        if (len(before) <= 4 and match.group(0) in _IF) or (not before and match.group(0) == "lo"):
            return True
        window = text[match.end():].split()[:5]
        if "bi" in window:
            return True
    # A short yes/no question ("có sao không"); a long story that ends so is still a story.
    return 0 < len(words) <= 25 and words[-1] == "khong" and "co" in words[:-1] and "bi" not in words


def _smalltalk(norm: str) -> bool:
    words = norm.split()
    if not words or len(words) > 10:
        return False
    matched = _has(_SMALLTALK, norm)
    rest = [w for w in _SMALLTALK.sub(" ", norm).split() if w not in _FILLER]
    return matched and not rest


def triage(text: str) -> Triage:
    """Classify ``text`` as emergency / disclosure / report / smalltalk / fallback, or None."""
    norm = normalize(text)
    defused = bool(norm) and _has(_DEFUSE, norm)
    if defused:
        norm = " ".join(_DEFUSE.sub(" ", norm).split())
        if not norm:
            return Triage(None, 0.0, ("everyday-words",))
    if not norm:
        if any(unicodedata.category(ch) == "So" for ch in text):
            return Triage("smalltalk", 0.6, ("emoji-only",))
        return Triage("fallback", 1.0, ("empty",))
    reasons: list[str] = ["everyday-words"] if defused else []

    def flag(name: str, on: bool) -> bool:
        if on:
            reasons.append(name)
        return on

    knowledge_q = flag("knowledge-question", _has(_KNOWLEDGE_Q, norm))
    flag("now", _has(_URGENT_NOW, norm) or _has(_HELP_NOW, norm))
    harm_match = _HARM.search(norm) or _HARM_PASSIVE.search(norm) or _HARM_WORD.search(norm)
    conditional = flag("conditional", _conditional(norm, _first_harm(norm)))
    concrete = flag("concrete-person", _has(_CONCRETE, norm))
    # "bị đánh", "bị ép lấy chồng": the subject is dropped, so the writer is the victim.
    bare_passive = len(norm.split()) <= 5 and norm.startswith("bi ") and _has(_HARM_PASSIVE, norm)
    voice = flag("victim-voice", (_has(_VICTIM_VOICE, norm) or bare_passive) and not conditional)
    timed = flag("time-aspect", _has(_TIME, norm))
    narrative = flag("narrative", _has(_NARRATIVE, norm))
    agent_act = flag("agent-act", not (knowledge_q or conditional) and _agent_act(norm, harm_match))
    generic_child = flag("generic-child", _has(_GENERIC_CHILD, norm) and not (concrete or timed))

    suspect = _has(_SUSPECT, norm)
    leading_q = flag("leading-question", _has(_LEADING_Q, norm))
    then_q = flag("then-question", _has(_THEN_QUESTION, _unaddressed(norm)) and not (
        _has(_EVENT_TIME, norm) or _has(_BEFORE_TODAY, norm)))
    news = flag("news", _has(_NEWS, norm))
    animal = flag("animal", _animal_only(norm))
    generic = (1.0 * knowledge_q + 1.0 * conditional + 0.4 * generic_child + 1.0 * leading_q
               + 1.0 * then_q + 2.0 * news + 1.0 * animal)
    anchor = 0.7 * concrete + 0.6 * voice + 0.5 * timed + 0.4 * narrative + 0.7 * agent_act

    # Emergency: urgent signals, cancelled by a knowledge/conditional frame.
    urgent = 0.0
    suicidal = flag("suicidal-words", _has(_SUICIDE, norm))
    urgent += 1.2 * suicidal
    # "uống bao nhiêu viên thì chết": asking for a lethal means is never a knowledge question.
    lethal = flag("lethal-means", _has(_LETHAL, norm))
    # "!!!" or a message in capitals: the writer is in a hurry.
    shouting = sum(c.isupper() for c in text) > 0.6 * sum(c.isalpha() for c in text) and len(norm.split()) >= 3
    urgent += 0.3 * flag("exclaim", "!!" in text or (shouting and not generic_child))
    urgent += 1.0 * flag("help-now", _has(_HELP_NOW, norm))
    help_please = flag("help-please", _has(_HELP_WEAK, norm))
    urgent += 0.6 * help_please
    # "giúp em với" while something is going on right now
    urgent += 0.4 * (help_please and _has(_URGENT_NOW, norm))
    urgent += 1.0 * flag("abduction", _has(_ABDUCT, norm))
    urgent += 1.0 * flag("ongoing-harm", _has(_ONGOING, norm) or (
        harm_match is not None and _has(_CRYING_NOW, norm)))
    urgent += 1.0 * flag("harm-soon", _has(_SOON, norm) or (
        _has(_SOON_EXTRA, norm) and _has(_SOON_TIME, norm)))
    now = _has(_NOW, norm)
    urgent += 1.0 * flag("fear-now", _has(_FEAR_NOW, norm) and _has(_URGENT_NOW, norm))
    if flag("danger-event", _has(_DANGER, norm)):
        person = concrete or voice or _has(_KIN_FIRST, norm) or _has(_CHILD_FIRST, norm)
        urgent += 0.6 + (0.3 if now else 0.0) + (0.3 if person else 0.0)
    # A child unconscious, not breathing, bleeding or hiding at this moment.
    injured = flag("injured-now", _has(_INJURED_NOW, norm) and not _has(_BEFORE_TODAY, norm))
    habitual = flag("habitual", _has(_HABITUAL, norm))
    urgent += 0.9 * (injured and not habitual)
    if flag("suspicion", suspect and not suicidal):
        urgent -= 0.5
    if flag("past", _has(_PAST, norm)) and not _has(_URGENT_NOW, norm):
        urgent -= 0.5
    em_score = urgent - 0.9 * generic + (2.0 if lethal else 0.0)
    happening = flag("happening-now", _happening_now(norm))
    before_today = _has(_BEFORE_TODAY, norm)
    soon = _has(_TONIGHT_STRICT, norm) or (_has(_TONIGHT, norm) and not before_today)
    pressing = (happening and not habitual) or suicidal or soon or bool({"help-now", "harm-soon"} & set(reasons))
    if em_score >= 0.85:
        if (habitual or before_today) and not pressing and generic == 0:
            # A pattern of harm or an older story with danger words: a disclosure.
            return Triage("disclosure", min(1.0, em_score / 2), (*reasons, "pattern-not-now"))
        return Triage("emergency", min(1.0, em_score / 2), tuple(reasons))

    # Disclosure: harm x anchor, cancelled by a knowledge/conditional frame.
    harm = 0.0
    if flag("harm", _has(_HARM, norm)):
        harm = 1.0
    elif flag("harm-passive", _has(_HARM_PASSIVE, norm)):
        harm = 0.8
    elif flag("harm-word", _has(_HARM_WORD, norm) and anchor >= 0.7):
        harm = 0.7
    elif flag("bi-event", (concrete or voice) and not (knowledge_q or conditional) and any(
        m.group(1) not in _BENIGN_BI for m in _BI_ANY.finditer(norm))):
        harm = 0.6
    elif em_score > 0.3:
        harm = 0.6  # a weaker danger signal still tells of a child at risk
    dis_score = harm * anchor - 0.8 * generic
    # "báo tin xâm hại trẻ em", "gửi thông tin một vụ …": the harm names what the report is
    # about; without a story (a victim's voice, a time, a narrative) it is a request to report.
    report_topic = _has(_REPORT_ANY, norm) and not (voice or timed or narrative or happening or " bi " in f" {norm} ")
    if report_topic and harm and dis_score >= 0.45:
        if knowledge_q or _has(_REPORT_QUESTION, norm):
            return Triage(None, 0.0, (*reasons, "report-question"))
        return Triage("report", 0.8, (*reasons, "report-request"))
    if harm and dis_score >= 0.45:
        if happening and not habitual and not _has(_BEFORE_TODAY, norm):
            return Triage("emergency", min(1.0, dis_score), (*reasons, "harm-happening"))
        return Triage("disclosure", min(1.0, dis_score), tuple(reasons))

    wants_report = _has(_REPORT_WANT, norm) or _has(_REPORT_BARE, norm)
    here = _has(_HERE, norm) and _has(_REPORT_ANY, norm)
    if here or (wants_report and not knowledge_q and not _has(_REPORT_QUESTION, norm)):
        return Triage("report", 0.9, (*reasons, "report-request"))

    if _smalltalk(norm):
        return Triage("smalltalk", 0.9, ("smalltalk",))
    return Triage(None, max(0.0, min(1.0, max(dis_score, em_score))), tuple(reasons))
