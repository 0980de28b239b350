package fake

// Region-consistent address data: index i of every table below belongs to
// jaPrefectures[i] / enStates[i].
//
// DO NOT REORDER, REMOVE OR INSERT ENTRIES (see the package documentation).

// jaPrefectureCities are a few real cities (or Tokyo wards) of each
// prefecture, in jaPrefectures order.
var jaPrefectureCities = [][]string{
	{"札幌市", "旭川市", "函館市", "釧路市", "帯広市"}, // 北海道
	{"青森市", "弘前市", "八戸市"},
	{"盛岡市", "一関市", "奥州市"},
	{"仙台市", "石巻市", "大崎市"},
	{"秋田市", "横手市", "大仙市"},
	{"山形市", "鶴岡市", "酒田市"},
	{"福島市", "郡山市", "いわき市"},
	{"水戸市", "つくば市", "日立市"},
	{"宇都宮市", "小山市", "栃木市"},
	{"前橋市", "高崎市", "太田市"},
	{"さいたま市", "川口市", "川越市", "所沢市", "越谷市"},
	{"千葉市", "船橋市", "松戸市", "市川市", "柏市"},
	{"新宿区", "世田谷区", "練馬区", "大田区", "八王子市", "町田市"},
	{"横浜市", "川崎市", "相模原市", "藤沢市", "横須賀市"},
	{"新潟市", "長岡市", "上越市"},
	{"富山市", "高岡市", "射水市"},
	{"金沢市", "白山市", "小松市"},
	{"福井市", "坂井市", "越前市"},
	{"甲府市", "甲斐市", "笛吹市"},
	{"長野市", "松本市", "上田市"},
	{"岐阜市", "大垣市", "各務原市"},
	{"静岡市", "浜松市", "富士市", "沼津市"},
	{"名古屋市", "豊田市", "岡崎市", "一宮市", "豊橋市"},
	{"津市", "四日市市", "鈴鹿市"},
	{"大津市", "草津市", "長浜市"},
	{"京都市", "宇治市", "亀岡市"},
	{"大阪市", "堺市", "東大阪市", "豊中市", "吹田市"},
	{"神戸市", "姫路市", "西宮市", "尼崎市", "明石市"},
	{"奈良市", "橿原市", "生駒市"},
	{"和歌山市", "田辺市", "橋本市"},
	{"鳥取市", "米子市", "倉吉市"},
	{"松江市", "出雲市", "浜田市"},
	{"岡山市", "倉敷市", "津山市"},
	{"広島市", "福山市", "呉市"},
	{"山口市", "下関市", "宇部市"},
	{"徳島市", "阿南市", "鳴門市"},
	{"高松市", "丸亀市", "坂出市"},
	{"松山市", "今治市", "新居浜市"},
	{"高知市", "南国市", "四万十市"},
	{"福岡市", "北九州市", "久留米市"},
	{"佐賀市", "唐津市", "鳥栖市"},
	{"長崎市", "佐世保市", "諫早市"},
	{"熊本市", "八代市", "天草市"},
	{"大分市", "別府市", "中津市"},
	{"宮崎市", "都城市", "延岡市"},
	{"鹿児島市", "霧島市", "鹿屋市"},
	{"那覇市", "沖縄市", "うるま市"}, // 沖縄県
}

// jaPostalRanges are the first three digits of each prefecture's postal
// codes (an inclusive range inside the prefecture's block), in
// jaPrefectures order.
var jaPostalRanges = [][2]int{
	{40, 99}, {30, 39}, {20, 29}, {980, 989}, {10, 19}, {990, 999}, {960, 979},
	{300, 319}, {320, 329}, {370, 379}, {330, 369}, {260, 299}, {100, 208}, {210, 259},
	{940, 959}, {930, 939}, {920, 929}, {910, 919}, {400, 409}, {380, 399}, {500, 509},
	{410, 439}, {440, 499}, {510, 519}, {520, 529}, {600, 629}, {530, 599}, {650, 679},
	{630, 639}, {640, 649}, {680, 689}, {690, 699}, {700, 719}, {720, 739}, {740, 759},
	{770, 779}, {760, 769}, {790, 799}, {780, 789}, {800, 839}, {840, 849}, {850, 859},
	{860, 869}, {870, 879}, {880, 889}, {890, 899}, {900, 909},
}

// enStateCodes are the USPS codes, in enStates order.
var enStateCodes = []string{
	"AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE",
	"FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
	"KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS",
	"MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
	"NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC",
	"SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
	"WI", "WY",
}

// enZIPRanges are each state's 3-digit ZIP prefixes (inclusive), in
// enStates order.
var enZIPRanges = [][2]int{
	{350, 369}, {995, 999}, {850, 865}, {716, 729}, {900, 961}, {800, 816}, {60, 69}, {197, 199},
	{320, 349}, {300, 319}, {967, 968}, {832, 838}, {600, 629}, {460, 479}, {500, 528}, {660, 679},
	{400, 427}, {700, 714}, {39, 49}, {206, 219}, {10, 27}, {480, 499}, {550, 567}, {386, 397},
	{630, 658}, {590, 599}, {680, 693}, {889, 898}, {30, 38}, {70, 89}, {870, 884}, {100, 149},
	{270, 289}, {580, 588}, {430, 459}, {730, 749}, {970, 979}, {150, 196}, {28, 29}, {290, 299},
	{570, 577}, {370, 385}, {750, 799}, {840, 847}, {50, 59}, {220, 246}, {980, 994}, {247, 268},
	{530, 549}, {820, 831},
}

// enStateCities are a few cities of each state, in enStates order.
var enStateCities = [][]string{
	{"Birmingham", "Montgomery", "Huntsville"}, {"Anchorage", "Fairbanks", "Juneau"},
	{"Phoenix", "Tucson", "Mesa"}, {"Little Rock", "Fayetteville", "Conway"},
	{"Los Angeles", "San Diego", "Sacramento", "Fresno"}, {"Denver", "Aurora", "Boulder"},
	{"Hartford", "New Haven", "Stamford"}, {"Wilmington", "Dover", "Newark"},
	{"Miami", "Orlando", "Tampa", "Jacksonville"}, {"Atlanta", "Savannah", "Augusta"},
	{"Honolulu", "Hilo", "Kailua"}, {"Boise", "Nampa", "Idaho Falls"},
	{"Chicago", "Springfield", "Peoria"}, {"Indianapolis", "Fort Wayne", "Evansville"},
	{"Des Moines", "Cedar Rapids", "Davenport"}, {"Wichita", "Topeka", "Lawrence"},
	{"Louisville", "Lexington", "Bowling Green"}, {"New Orleans", "Baton Rouge", "Shreveport"},
	{"Portland", "Bangor", "Lewiston"}, {"Baltimore", "Annapolis", "Rockville"},
	{"Boston", "Worcester", "Cambridge"}, {"Detroit", "Grand Rapids", "Lansing"},
	{"Minneapolis", "Saint Paul", "Duluth"}, {"Jackson", "Gulfport", "Hattiesburg"},
	{"Kansas City", "St. Louis", "Springfield"}, {"Billings", "Missoula", "Helena"},
	{"Omaha", "Lincoln", "Kearney"}, {"Las Vegas", "Reno", "Henderson"},
	{"Manchester", "Nashua", "Concord"}, {"Newark", "Jersey City", "Trenton"},
	{"Albuquerque", "Santa Fe", "Las Cruces"}, {"New York", "Buffalo", "Rochester", "Albany"},
	{"Charlotte", "Raleigh", "Durham"}, {"Fargo", "Bismarck", "Grand Forks"},
	{"Columbus", "Cleveland", "Cincinnati"}, {"Oklahoma City", "Tulsa", "Norman"},
	{"Portland", "Salem", "Eugene"}, {"Philadelphia", "Pittsburgh", "Harrisburg"},
	{"Providence", "Warwick", "Cranston"}, {"Charleston", "Columbia", "Greenville"},
	{"Sioux Falls", "Rapid City", "Pierre"}, {"Nashville", "Memphis", "Knoxville"},
	{"Houston", "Austin", "Dallas", "San Antonio"}, {"Salt Lake City", "Provo", "Ogden"},
	{"Burlington", "Montpelier", "Rutland"}, {"Richmond", "Norfolk", "Arlington"},
	{"Seattle", "Spokane", "Tacoma"}, {"Charleston", "Morgantown", "Huntington"},
	{"Milwaukee", "Madison", "Green Bay"}, {"Cheyenne", "Casper", "Laramie"},
}
