package jpshop

// Data of the fixture, written for it. The people are made up; domains are
// reserved example names.

type name struct{ kanji, kana, romaji string }

var familyNames = []name{
	{"秋山", "アキヤマ", "akiyama"}, {"石原", "イシハラ", "ishihara"}, {"今井", "イマイ", "imai"},
	{"上野", "ウエノ", "ueno"}, {"大塚", "オオツカ", "otsuka"}, {"片山", "カタヤマ", "katayama"},
	{"川口", "カワグチ", "kawaguchi"}, {"北村", "キタムラ", "kitamura"}, {"久保", "クボ", "kubo"},
	{"小島", "コジマ", "kojima"}, {"桜井", "サクライ", "sakurai"}, {"島田", "シマダ", "shimada"},
	{"杉山", "スギヤマ", "sugiyama"}, {"関口", "セキグチ", "sekiguchi"}, {"高木", "タカギ", "takagi"},
	{"千葉", "チバ", "chiba"}, {"土屋", "ツチヤ", "tsuchiya"}, {"永井", "ナガイ", "nagai"},
	{"西田", "ニシダ", "nishida"}, {"野口", "ノグチ", "noguchi"}, {"浜田", "ハマダ", "hamada"},
	{"平野", "ヒラノ", "hirano"}, {"古川", "フルカワ", "furukawa"}, {"堀内", "ホリウチ", "horiuchi"},
	{"松井", "マツイ", "matsui"}, {"宮本", "ミヤモト", "miyamoto"}, {"村田", "ムラタ", "murata"},
	{"望月", "モチヅキ", "mochizuki"}, {"矢野", "ヤノ", "yano"}, {"横山", "ヨコヤマ", "yokoyama"},
	{"吉川", "ヨシカワ", "yoshikawa"}, {"若林", "ワカバヤシ", "wakabayashi"},
}

var givenNames = []name{
	{"愛子", "アイコ", "aiko"}, {"明美", "アケミ", "akemi"}, {"和也", "カズヤ", "kazuya"},
	{"健一", "ケンイチ", "kenichi"}, {"幸子", "サチコ", "sachiko"}, {"聡", "サトシ", "satoshi"},
	{"静香", "シズカ", "shizuka"}, {"翔太", "ショウタ", "shota"}, {"大輔", "ダイスケ", "daisuke"},
	{"千尋", "チヒロ", "chihiro"}, {"智也", "トモヤ", "tomoya"}, {"直美", "ナオミ", "naomi"},
	{"典子", "ノリコ", "noriko"}, {"隼人", "ハヤト", "hayato"}, {"浩二", "コウジ", "koji"},
	{"文香", "フミカ", "fumika"}, {"真由美", "マユミ", "mayumi"}, {"美咲", "ミサキ", "misaki"},
	{"恵", "メグミ", "megumi"}, {"康弘", "ヤスヒロ", "yasuhiro"}, {"裕子", "ユウコ", "yuko"},
	{"洋平", "ヨウヘイ", "yohei"}, {"理沙", "リサ", "risa"}, {"亮", "リョウ", "ryo"},
	{"涼子", "リョウコ", "ryoko"}, {"和美", "カズミ", "kazumi"}, {"拓也", "タクヤ", "takuya"},
	{"陽菜", "ヒナ", "hina"},
}

var emailDomains = []string{"example.jp", "example.co.jp", "example.ne.jp", "example.com", "mail.example.org"}

type prefecture struct {
	name   string
	postal int // first three digits of its postal codes, + 0..9
	cities []string
}

var prefectures = []prefecture{
	{"東京都", 150, []string{"渋谷区", "杉並区", "品川区"}},
	{"神奈川県", 220, []string{"横浜市西区", "川崎市中原区", "藤沢市"}},
	{"千葉県", 273, []string{"船橋市", "松戸市", "柏市"}},
	{"埼玉県", 330, []string{"さいたま市大宮区", "川越市"}},
	{"大阪府", 530, []string{"大阪市北区", "堺市堺区", "吹田市"}},
	{"愛知県", 450, []string{"名古屋市中村区", "豊橋市"}},
	{"福岡県", 810, []string{"福岡市中央区", "久留米市"}},
	{"北海道", 60, []string{"札幌市中央区", "函館市"}},
	{"宮城県", 980, []string{"仙台市青葉区", "石巻市"}},
	{"京都府", 600, []string{"京都市下京区", "宇治市"}},
}

var towns = []string{"桜町", "本通", "緑ケ丘", "旭町", "若葉台", "港南", "駅南", "新栄"}

var buildings = []string{"ハイツ桜", "メゾン緑", "コーポ港南", "グランシティ"}

var categories = []string{"キッチン用品", "文房具", "お茶", "タオル", "アウトドア", "本", "家電", "コスメ"}

var deliveryNotes = []string{"置き配希望", "午前中指定", "宅配ボックスへ", "インターホンを押してください", "", "夜間配達希望"}

var eventTypes = []string{"view_item", "add_to_cart", "checkout", "login", "review_posted"}

var userAgents = []string{
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
	"Mozilla/5.0 (Linux; Android 14)",
}

var ticketSubjects = []string{"配送について", "返品したい", "ポイントが反映されない", "請求金額の確認"}
