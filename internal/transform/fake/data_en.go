package fake

// English (US) data tables.
//
// DO NOT REORDER, REMOVE OR INSERT ENTRIES: output is a function of the
// index drawn, so any change alters every value masked with these tables.
// See the package documentation.

var enFirstNames = []string{
	"James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda",
	"William", "Elizabeth", "David", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
	"Thomas", "Sarah", "Charles", "Karen", "Christopher", "Nancy", "Daniel", "Lisa",
	"Matthew", "Betty", "Anthony", "Margaret", "Mark", "Sandra", "Donald", "Ashley",
	"Steven", "Kimberly", "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle",
	"Kenneth", "Dorothy", "Kevin", "Carol", "Brian", "Amanda", "George", "Melissa",
	"Timothy", "Deborah", "Ronald", "Stephanie", "Edward", "Rebecca", "Jason", "Sharon",
	"Jeffrey", "Laura", "Ryan", "Cynthia", "Jacob", "Kathleen", "Gary", "Amy",
	"Nicholas", "Angela", "Eric", "Shirley", "Jonathan", "Anna", "Stephen", "Brenda",
	"Larry", "Pamela", "Justin", "Emma", "Scott", "Nicole", "Brandon", "Helen",
	"Benjamin", "Samantha", "Samuel", "Katherine", "Gregory", "Christine", "Alexander", "Debra",
	"Frank", "Rachel", "Patrick", "Carolyn", "Raymond", "Janet", "Jack", "Catherine",
	"Dennis", "Maria", "Jerry", "Heather", "Tyler", "Diane", "Aaron", "Ruth",
	"Jose", "Julie", "Adam", "Olivia", "Nathan", "Joyce", "Henry", "Virginia",
	"Douglas", "Victoria", "Zachary", "Kelly", "Peter", "Lauren", "Kyle", "Christina",
	"Ethan", "Joan", "Walter", "Evelyn", "Noah", "Judith", "Jeremy", "Megan",
	"Christian", "Andrea", "Keith", "Cheryl", "Roger", "Hannah", "Terry", "Jacqueline",
	"Gerald", "Martha", "Harold", "Gloria", "Sean", "Teresa", "Austin", "Ann",
	"Carl", "Sara", "Arthur", "Madison", "Lawrence", "Frances", "Dylan", "Kathryn",
	"Jesse", "Janice", "Jordan", "Jean", "Bryan", "Abigail", "Billy", "Alice",
	"Joe", "Julia", "Bruce", "Judy", "Gabriel", "Sophia", "Logan", "Grace",
	"Albert", "Denise", "Willie", "Amber", "Alan", "Doris", "Juan", "Marilyn",
	"Wayne", "Danielle", "Elijah", "Beverly", "Randy", "Isabella", "Roy", "Theresa",
	"Vincent", "Diana", "Ralph", "Natalie", "Eugene", "Brittany", "Russell", "Charlotte",
	"Bobby", "Marie", "Mason", "Kayla", "Philip", "Alexis", "Louis", "Lori",
}

var enLastNames = []string{
	"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
	"Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
	"Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
	"Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
	"Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
	"Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
	"Carter", "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker",
	"Cruz", "Edwards", "Collins", "Reyes", "Stewart", "Morris", "Morales", "Murphy",
	"Cook", "Rogers", "Gutierrez", "Ortiz", "Morgan", "Cooper", "Peterson", "Bailey",
	"Reed", "Kelly", "Howard", "Ramos", "Kim", "Cox", "Ward", "Richardson",
	"Watson", "Brooks", "Chavez", "Wood", "James", "Bennett", "Gray", "Mendoza",
	"Ruiz", "Hughes", "Price", "Alvarez", "Castillo", "Sanders", "Patel", "Myers",
	"Long", "Ross", "Foster", "Jimenez", "Powell", "Jenkins", "Perry", "Russell",
	"Sullivan", "Bell", "Coleman", "Butler", "Henderson", "Barnes", "Gonzales", "Fisher",
	"Vasquez", "Simmons", "Romero", "Jordan", "Patterson", "Alexander", "Hamilton", "Graham",
	"Reynolds", "Griffin", "Wallace", "Moreno", "West", "Cole", "Hayes", "Bryant",
	"Herrera", "Gibson", "Ellis", "Tran", "Medina", "Aguilar", "Stevens", "Murray",
	"Ford", "Castro", "Marshall", "Owens", "Harrison", "Fernandez", "McDonald", "Woods",
	"Washington", "Kennedy", "Wells", "Vargas", "Henry", "Chen", "Freeman", "Webb",
	"Tucker", "Guzman", "Burns", "Crawford", "Olson", "Simpson", "Porter", "Hunter",
	"Gordon", "Mendez", "Silva", "Shaw", "Snyder", "Mason", "Dixon", "Munoz",
	"Hunt", "Hicks", "Holmes", "Palmer", "Wagner", "Black", "Robertson", "Boyd",
	"Rose", "Stone", "Salazar", "Fox", "Warren", "Mills", "Meyer", "Rice",
	"Schmidt", "Garza", "Daniels", "Ferguson", "Nichols", "Stephens", "Soto", "Weaver",
	"Ryan", "Gardner", "Payne", "Grant", "Dunn", "Kelley", "Spencer", "Hawkins",
	"Arnold", "Pierce", "Vazquez", "Hansen", "Peters", "Santos", "Hart", "Bradley",
	"Knight", "Elliott", "Cunningham", "Duncan", "Armstrong", "Hudson", "Carroll", "Lane",
	"Riley", "Andrews", "Ray", "Berry", "Perkins", "Hoffman", "Johnston", "Matthews",
	"Pena", "Richards", "Willis", "Carpenter", "Lawrence", "Sandoval", "O'Brien", "O'Connor",
}

var enStreetNames = []string{
	"Maple", "Oak", "Pine", "Cedar", "Elm", "Walnut", "Willow", "Birch",
	"Spruce", "Chestnut", "Hickory", "Magnolia", "Sycamore", "Cherry", "Laurel", "Aspen",
	"Main", "Church", "High", "Park", "Lake", "Hill", "River", "Spring",
	"Sunset", "Highland", "Forest", "Meadow", "Valley", "Ridge", "Mill", "Center",
	"Washington", "Lincoln", "Jefferson", "Madison", "Franklin", "Jackson", "Adams", "Monroe",
	"Wilson", "Lee", "Grant", "Hamilton", "Cleveland", "Union", "Liberty", "Market",
	"Broad", "Water", "Bridge", "School", "College", "Prospect", "Pleasant", "Green",
	"First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth",
	"North", "South", "East", "West", "Harbor", "Bay", "Ocean", "Summit",
	"Fairview", "Woodland", "Country Club", "Orchard", "Railroad", "Locust", "Dogwood", "Holly",
}

var enStreetSuffixes = []string{
	"Street", "Avenue", "Road", "Drive", "Lane", "Court", "Boulevard", "Way",
	"Place", "Terrace", "Circle", "Parkway",
}

var enCities = []string{
	"New York", "Los Angeles", "Chicago", "Houston", "Phoenix", "Philadelphia", "San Antonio", "San Diego",
	"Dallas", "San Jose", "Austin", "Jacksonville", "Fort Worth", "Columbus", "Charlotte", "Indianapolis",
	"San Francisco", "Seattle", "Denver", "Oklahoma City", "Nashville", "Washington", "El Paso", "Las Vegas",
	"Boston", "Detroit", "Portland", "Louisville", "Memphis", "Baltimore", "Milwaukee", "Albuquerque",
	"Tucson", "Fresno", "Sacramento", "Mesa", "Kansas City", "Atlanta", "Omaha", "Colorado Springs",
	"Raleigh", "Long Beach", "Virginia Beach", "Miami", "Oakland", "Minneapolis", "Tulsa", "Bakersfield",
	"Wichita", "Arlington", "Aurora", "Tampa", "New Orleans", "Cleveland", "Honolulu", "Anaheim",
	"Lexington", "Stockton", "Henderson", "Riverside", "Newark", "Saint Paul", "Santa Ana", "Cincinnati",
	"Irvine", "Orlando", "Pittsburgh", "St. Louis", "Greensboro", "Jersey City", "Anchorage", "Lincoln",
	"Plano", "Durham", "Buffalo", "Chandler", "Chula Vista", "Toledo", "Madison", "Gilbert",
	"Reno", "Fort Wayne", "North Las Vegas", "Lubbock", "Laredo", "Chesapeake", "Irving", "Winston-Salem",
	"Glendale", "Scottsdale", "Norfolk", "Boise", "Spokane", "Richmond", "Des Moines", "Salt Lake City",
	"Birmingham", "Rochester", "Tacoma", "Little Rock", "Providence", "Hartford", "Springfield", "Savannah",
}

var enStates = []string{
	"Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware",
	"Florida", "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas",
	"Kentucky", "Louisiana", "Maine", "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi",
	"Missouri", "Montana", "Nebraska", "Nevada", "New Hampshire", "New Jersey", "New Mexico", "New York",
	"North Carolina", "North Dakota", "Ohio", "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island", "South Carolina",
	"South Dakota", "Tennessee", "Texas", "Utah", "Vermont", "Virginia", "Washington", "West Virginia",
	"Wisconsin", "Wyoming",
}
