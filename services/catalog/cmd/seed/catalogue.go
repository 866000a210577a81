package main

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"bazaar/catalog"
)

// department describes one category of the demo catalogue: the words its
// product names and descriptions are made of.
type department struct {
	slug, name, code string
	// pitch introduces the two features in a description.
	pitch string
	// nameFormat builds a product name from a brand (%[1]s), an adjective
	// (%[2]s) and a kind (%[3]s).
	nameFormat string
	brands     []string
	adjectives []string
	kinds      []kind
	materials  []string
	features   []string
	uses       []string
}

// kind is a type of product with its plausible price range, in cents.
type kind struct {
	name     string
	min, max int64
}

// perDepartment is how many products each department gets.
const perDepartment = 80

var departments = []department{
	{
		slug: "electronics", name: "Electronics", code: "ELC", nameFormat: "%[1]s %[2]s %[3]s",
		brands:     []string{"Aurora", "Nimbus", "Voltique", "Kestrel", "Lumen"},
		adjectives: []string{"Wireless", "Compact", "Pro", "Ultra-Slim", "Rugged", "Smart", "Portable", "Studio"},
		kinds: []kind{{"Headphones", 4999, 24999}, {"Bluetooth Speaker", 2999, 14999}, {"Smartwatch", 9999, 39999},
			{"USB-C Charger", 1499, 4999}, {"Power Bank", 1999, 6999}, {"Keyboard", 3999, 17999},
			{"Mouse", 1999, 7999}, {"Webcam", 3999, 12999}, {"E-Reader", 8999, 19999}, {"Action Camera", 12999, 39999}},
		materials: []string{"brushed aluminium", "recycled plastic", "matte polycarbonate", "soft-touch silicone"},
		features: []string{"active noise cancelling", "a 30-hour battery", "fast charging over USB-C", "IPX7 water resistance",
			"Bluetooth 5.3", "a low-latency gaming mode", "a companion app", "multipoint pairing", "voice assistant support"},
		uses: []string{"commuting", "working from home", "long flights", "gaming sessions", "the gym", "video calls"},
	},
	{
		slug: "home-kitchen", name: "Home & Kitchen", code: "KIT", nameFormat: "%[1]s %[2]s %[3]s",
		brands:     []string{"Hearthstone", "Copperleaf", "Maison Blanc", "Oakridge", "Fennel & Co"},
		adjectives: []string{"Classic", "Enamelled", "Stainless", "Artisan", "Everyday", "Professional", "Nordic", "Heritage"},
		kinds: []kind{{"Chef's Knife", 2999, 14999}, {"Cast Iron Skillet", 2499, 8999}, {"French Press", 1999, 5999},
			{"Cutting Board", 1499, 6999}, {"Stand Mixer", 19999, 49999}, {"Kettle", 2499, 9999},
			{"Dutch Oven", 4999, 29999}, {"Spice Rack", 1999, 5999}, {"Mixing Bowl Set", 1999, 6999}, {"Teapot", 1999, 7999}},
		materials: []string{"high-carbon steel", "seasoned cast iron", "borosilicate glass", "end-grain walnut", "glazed stoneware"},
		features: []string{"a lifetime warranty", "dishwasher-safe parts", "an ergonomic handle", "even heat distribution",
			"a non-slip base", "an induction-ready base", "a drip-free spout", "oven safety up to 260°C"},
		uses: []string{"weeknight dinners", "slow Sunday roasts", "baking bread", "brewing loose-leaf tea", "meal prep", "entertaining guests"},
	},
	{
		slug: "books", name: "Books", code: "BOK", pitch: "Expect", nameFormat: "%[2]s %[3]s by %[1]s",
		brands:     []string{"Elena Marsh", "Tomas Reyes", "Ada Whitlock", "Kofi Mensah", "Ingrid Solberg"},
		adjectives: []string{"The Silent", "A Distant", "The Last", "Beneath the", "The Hidden", "Letters from the", "The Burning", "Winter in the"},
		kinds: []kind{{"Harbor", 999, 2999}, {"Orchard", 999, 2999}, {"Kingdom", 1299, 3499}, {"Lighthouse", 999, 2499},
			{"Archive", 1499, 3499}, {"Garden", 999, 2499}, {"Frontier", 1299, 2999}, {"Observatory", 1499, 3999}, {"Cartographer", 1299, 3299}},
		materials: []string{"hardcover", "paperback", "illustrated hardcover", "large-print paperback"},
		features: []string{"a mystery that spans three generations", "a love story set during wartime", "a heist gone wrong",
			"a coming-of-age journey", "an unreliable narrator", "a map of an invented island", "recipes woven into the plot", "a twist ending"},
		uses: []string{"book clubs", "rainy weekends", "long train journeys", "readers of literary fiction", "fans of historical novels", "bedtime reading"},
	},
	{
		slug: "clothing", name: "Clothing", code: "CLO", nameFormat: "%[1]s %[2]s %[3]s",
		brands:     []string{"Northwind", "Linen & Loom", "Urban Fox", "Alder", "Marlowe"},
		adjectives: []string{"Organic Cotton", "Merino", "Relaxed", "Slim-Fit", "Waterproof", "Quilted", "Linen", "Fleece"},
		kinds: []kind{{"T-Shirt", 1499, 3999}, {"Hoodie", 3999, 8999}, {"Jacket", 7999, 24999}, {"Chinos", 3999, 8999},
			{"Dress", 4999, 14999}, {"Sweater", 4999, 12999}, {"Shirt", 2999, 7999}, {"Scarf", 1999, 5999}, {"Raincoat", 6999, 19999}},
		materials: []string{"organic cotton", "merino wool", "recycled polyester", "European linen", "brushed flannel"},
		features: []string{"reinforced seams", "a tailored fit", "hidden pockets", "a breathable weave", "taped seams",
			"a two-way zip", "pre-shrunk fabric", "a relaxed drop shoulder"},
		uses: []string{"layering in autumn", "city walks", "the office", "weekend hikes", "travel", "lazy Sundays"},
	},
	{
		slug: "shoes", name: "Shoes", code: "SHO", nameFormat: "%[1]s %[2]s %[3]s",
		brands:     []string{"Stride", "Trailhead", "Cobbler & Sons", "Velo", "Pace"},
		adjectives: []string{"Leather", "Trail", "Minimalist", "Waterproof", "Cushioned", "Suede", "Everyday", "Lightweight"},
		kinds: []kind{{"Running Shoes", 6999, 17999}, {"Hiking Boots", 9999, 24999}, {"Sneakers", 4999, 12999},
			{"Loafers", 6999, 19999}, {"Sandals", 2999, 8999}, {"Chelsea Boots", 9999, 22999}, {"Slippers", 1999, 5999}},
		materials: []string{"full-grain leather", "breathable mesh", "Italian suede", "recycled knit", "waxed canvas"},
		features: []string{"a Vibram outsole", "a cushioned midsole", "a gusseted tongue", "a removable insole", "reflective details",
			"a wide toe box", "a Goodyear welt", "a grippy rubber sole"},
		uses: []string{"marathon training", "mountain trails", "daily commuting", "summer holidays", "the office", "lounging at home"},
	},
	{
		slug: "sports-outdoors", name: "Sports & Outdoors", code: "SPO", nameFormat: "%[1]s %[2]s %[3]s",
		brands:     []string{"Summit", "Riverbend", "Ironbark", "Polar Peak", "Cascade"},
		adjectives: []string{"Ultralight", "Insulated", "Foldable", "Adjustable", "All-Weather", "Expedition", "Compact", "Trail"},
		kinds: []kind{{"Tent", 9999, 49999}, {"Sleeping Bag", 4999, 24999}, {"Backpack", 4999, 19999}, {"Yoga Mat", 1999, 7999},
			{"Water Bottle", 999, 3999}, {"Trekking Poles", 2999, 9999}, {"Dumbbell Set", 3999, 19999}, {"Headlamp", 1499, 5999},
			{"Camping Stove", 2999, 12999}},
		materials: []string{"ripstop nylon", "stainless steel", "natural rubber", "aircraft-grade aluminium", "recycled down"},
		features: []string{"a storm-proof design", "a 2-minute pitch", "a lifetime warranty", "a rechargeable battery", "a non-slip surface",
			"a hydration sleeve", "double-wall insulation", "a comfort rating of -5°C"},
		uses: []string{"backpacking trips", "home workouts", "alpine camping", "festival weekends", "trail running", "family picnics"},
	},
	{
		slug: "toys-games", name: "Toys & Games", code: "TOY", nameFormat: "%[1]s %[2]s %[3]s",
		brands:     []string{"Tinker Town", "Brightbox", "Meeple & More", "Little Lark", "Puzzlewood"},
		adjectives: []string{"Wooden", "Cooperative", "Magnetic", "Deluxe", "Educational", "Pocket", "Giant", "Classic"},
		kinds: []kind{{"Board Game", 1999, 5999}, {"Jigsaw Puzzle", 1299, 3499}, {"Building Blocks", 1999, 8999},
			{"Train Set", 2999, 12999}, {"Card Game", 999, 2499}, {"Plush Bear", 1499, 3999}, {"Science Kit", 2499, 6999},
			{"Kite", 1499, 4999}, {"Marble Run", 2999, 7999}},
		materials: []string{"FSC-certified beech wood", "recycled cardboard", "soft organic cotton", "non-toxic plastic"},
		features: []string{"rules that take five minutes to learn", "1000 pieces", "a storage bag", "glow-in-the-dark parts",
			"thirty experiments", "a two-player mode", "expandable sets", "rounded safe edges"},
		uses: []string{"family game night", "rainy afternoons", "ages 3 and up", "ages 8 and up", "classrooms", "birthday gifts"},
	},
	{
		slug: "beauty", name: "Beauty & Personal Care", code: "BEA", nameFormat: "%[1]s %[2]s %[3]s",
		brands:     []string{"Lumière", "Verdant", "Saltwater", "Petal & Pine", "Haven"},
		adjectives: []string{"Hydrating", "Gentle", "Vitamin C", "Fragrance-Free", "Nourishing", "Overnight", "Mineral", "Soothing"},
		kinds: []kind{{"Face Cream", 1499, 5999}, {"Serum", 1999, 6999}, {"Shampoo", 899, 2499}, {"Body Lotion", 999, 2999},
			{"Lip Balm", 399, 1299}, {"Sunscreen SPF 50", 1299, 3499}, {"Hand Soap", 599, 1499}, {"Bath Salts", 999, 2999}},
		materials: []string{"shea butter", "hyaluronic acid", "aloe vera", "cold-pressed argan oil", "colloidal oatmeal"},
		features: []string{"no parabens", "a recyclable glass jar", "dermatologist testing", "a refillable bottle", "vegan ingredients",
			"a light non-greasy texture", "broad-spectrum protection", "essential oils of lavender"},
		uses: []string{"dry skin", "sensitive skin", "morning routines", "after sun exposure", "curly hair", "a relaxing bath"},
	},
	{
		slug: "garden", name: "Garden", code: "GAR", nameFormat: "%[1]s %[2]s %[3]s",
		brands:     []string{"Greenthumb", "Hedgerow", "Wildflower", "Terracotta Lane", "Rootstock"},
		adjectives: []string{"Heavy-Duty", "Raised", "Solar", "Self-Watering", "Telescopic", "Galvanised", "Ceramic", "Compact"},
		kinds: []kind{{"Garden Hose", 2499, 7999}, {"Planter", 1999, 9999}, {"Pruning Shears", 1499, 4999}, {"Wheelbarrow", 5999, 17999},
			{"Bird Feeder", 1499, 4999}, {"Watering Can", 1299, 3999}, {"Compost Bin", 3999, 12999}, {"Garden Lights", 1999, 6999},
			{"Seed Starter Kit", 999, 2999}},
		materials: []string{"powder-coated steel", "frost-proof terracotta", "recycled plastic", "cedar wood", "UV-resistant resin"},
		features: []string{"a kink-free design", "drainage holes", "sharp bypass blades", "a dusk-to-dawn sensor", "a squirrel guard",
			"a built-in water reservoir", "tool-free assembly", "a five-year guarantee"},
		uses: []string{"balcony gardens", "vegetable patches", "growing herbs", "attracting songbirds", "lawn care", "autumn pruning"},
	},
	{
		slug: "office-supplies", name: "Office Supplies", code: "OFF", nameFormat: "%[1]s %[2]s %[3]s",
		brands:     []string{"Quill", "Ledger", "Papercraft", "Deskmate", "Inkwell"},
		adjectives: []string{"Dotted", "Refillable", "Ergonomic", "Recycled", "Executive", "Magnetic", "Adjustable", "Minimal"},
		kinds: []kind{{"Notebook", 799, 2999}, {"Fountain Pen", 1999, 12999}, {"Desk Organizer", 1999, 5999}, {"Monitor Stand", 2999, 8999},
			{"Desk Lamp", 2999, 9999}, {"Whiteboard", 2499, 8999}, {"Planner", 1499, 3999}, {"Office Chair", 14999, 49999}},
		materials: []string{"100 gsm acid-free paper", "bamboo", "anodised aluminium", "vegan leather", "recycled card"},
		features: []string{"lay-flat binding", "a fine steel nib", "a USB charging port", "lumbar support", "numbered pages",
			"a dimmable warm light", "cable management", "an elastic closure"},
		uses: []string{"bullet journaling", "home offices", "students", "meeting notes", "long workdays", "sketching"},
	},
	{
		slug: "pet-supplies", name: "Pet Supplies", code: "PET", nameFormat: "%[1]s %[2]s %[3]s",
		brands:     []string{"Happy Paws", "Whisker", "Barkley", "Tailwind", "Furwell"},
		adjectives: []string{"Orthopedic", "Chew-Proof", "Reflective", "Interactive", "Washable", "Grain-Free", "Calming", "Adjustable"},
		kinds: []kind{{"Dog Bed", 2999, 12999}, {"Cat Tree", 4999, 17999}, {"Leash", 999, 3499}, {"Dog Collar", 799, 2999},
			{"Puzzle Feeder", 1299, 3999}, {"Cat Litter Box", 1999, 7999}, {"Pet Carrier", 2999, 8999}, {"Dog Treats", 499, 1999}},
		materials: []string{"memory foam", "heavy-duty nylon", "natural sisal", "food-grade silicone", "single-origin salmon"},
		features: []string{"a removable washable cover", "reflective stitching", "a non-slip bottom", "no artificial colours",
			"a quick-release buckle", "airline approval", "slow-feeding ridges", "a scratch-resistant finish"},
		uses: []string{"senior dogs", "indoor cats", "puppies", "night walks", "road trips", "anxious pets"},
	},
	{
		slug: "grocery", name: "Grocery & Gourmet", code: "GRO", nameFormat: "%[1]s %[2]s %[3]s",
		brands:     []string{"Harvest Moon", "Stone Mill", "Blue Fig", "Old Orchard", "Salt & Smoke"},
		adjectives: []string{"Organic", "Single-Origin", "Small-Batch", "Wildflower", "Smoked", "Stone-Ground", "Cold-Brew", "Spiced"},
		kinds: []kind{{"Coffee Beans", 999, 2499}, {"Green Tea", 699, 1999}, {"Olive Oil", 999, 3499}, {"Honey", 799, 2499},
			{"Dark Chocolate", 399, 1299}, {"Pasta", 399, 999}, {"Hot Sauce", 599, 1499}, {"Granola", 599, 1499}, {"Sea Salt", 499, 1299}},
		materials: []string{"Ethiopian arabica", "Kalamata olives", "raw wildflower nectar", "70% Ecuadorian cacao", "durum wheat semolina"},
		features: []string{"notes of citrus and caramel", "a fair-trade certificate", "no added sugar", "a resealable pouch",
			"a first cold pressing", "bronze-die cutting", "a slow roast", "a gentle chilli heat"},
		uses: []string{"espresso lovers", "Sunday brunch", "gift baskets", "salad dressings", "midnight snacks", "home cooks"},
	},
	{
		slug: "furniture", name: "Furniture", code: "FUR", nameFormat: "%[1]s %[2]s %[3]s",
		brands:     []string{"Fjord", "Woodhaven", "Loft & Line", "Aldergrove", "Kinfolk Studio"},
		adjectives: []string{"Solid Oak", "Mid-Century", "Industrial", "Scandinavian", "Velvet", "Rattan", "Extendable", "Modular"},
		kinds: []kind{{"Bookshelf", 7999, 29999}, {"Coffee Table", 9999, 39999}, {"Armchair", 19999, 79999}, {"Dining Chair", 7999, 24999},
			{"Bed Frame", 24999, 99999}, {"Side Table", 4999, 14999}, {"Sofa", 59999, 199999}, {"TV Stand", 9999, 34999}},
		materials: []string{"solid white oak", "powder-coated steel", "natural rattan", "performance velvet", "reclaimed pine"},
		features: []string{"tool-free assembly", "hidden storage", "stain-resistant fabric", "adjustable shelves", "felt floor protectors",
			"a ten-year frame warranty", "rounded child-safe corners", "a hand-oiled finish"},
		uses: []string{"small apartments", "reading nooks", "family living rooms", "home offices", "guest rooms", "open-plan kitchens"},
	},
	{
		slug: "musical-instruments", name: "Musical Instruments", code: "MUS", nameFormat: "%[1]s %[2]s %[3]s",
		brands:     []string{"Harmonia", "Redwood Tone", "Cadence", "Bluebird", "Octave"},
		adjectives: []string{"Acoustic", "Electric", "Beginner", "Concert", "Travel", "Vintage", "Digital", "Solid-Top"},
		kinds: []kind{{"Guitar", 12999, 89999}, {"Ukulele", 3999, 14999}, {"Keyboard", 9999, 59999}, {"Drum Pad", 2999, 9999},
			{"Violin", 9999, 49999}, {"Harmonica", 1999, 5999}, {"Guitar Strings", 599, 1999}, {"Metronome", 1499, 4999}},
		materials: []string{"solid spruce", "mahogany", "rosewood", "maple", "phosphor bronze"},
		features: []string{"a padded gig bag", "weighted hammer-action keys", "a built-in tuner", "low action for easy playing",
			"a headphone output", "hand-carved bracing", "MIDI over USB", "a warm balanced tone"},
		uses: []string{"first lessons", "campfire songs", "studio recording", "live gigs", "daily practice", "orchestras"},
	},
}

// closings end descriptions with a note shared across departments.
var closings = []string{
	"Ships in plastic-free packaging.", "Backed by a 30-day return policy.", "Designed in our studio and tested for a year.",
	"Gift wrapping available.", "A customer favourite since last season.", "Limited run: restocks are not guaranteed.",
}

// seedProduct is the body of POST /api/catalog/products.
type seedProduct struct {
	SKU          string `json:"sku"`
	Name         string `json:"name"`
	Description  string `json:"description"`
	PriceCents   int64  `json:"price_cents"`
	Currency     string `json:"currency"`
	Stock        int    `json:"stock"`
	Category     string `json:"category"`
	CategoryName string `json:"category_name"`
}

// demoCatalogue returns the demo catalogue. It is the same on every run (a
// fixed random seed), so that seeding twice finds every SKU already there.
func demoCatalogue() []seedProduct {
	r := rand.New(rand.NewPCG(2026, 11))
	var out []seedProduct
	for _, d := range departments {
		type combo struct{ brand, adj, kind int }
		var combos []combo
		for b := range d.brands {
			for a := range d.adjectives {
				for k := range d.kinds {
					combos = append(combos, combo{b, a, k})
				}
			}
		}
		r.Shuffle(len(combos), func(i, j int) { combos[i], combos[j] = combos[j], combos[i] })
		for i, c := range combos[:perDepartment] {
			k := d.kinds[c.kind]
			out = append(out, seedProduct{
				SKU:          fmt.Sprintf("%s-%04d", d.code, i+1),
				Name:         fmt.Sprintf(d.nameFormat, d.brands[c.brand], d.adjectives[c.adj], k.name),
				Description:  describe(r, d, c.brand, c.adj, k),
				PriceCents:   price(r, k),
				Currency:     catalog.DefaultCurrency,
				Stock:        stock(r),
				Category:     d.slug,
				CategoryName: d.name,
			})
		}
	}
	return out
}

func describe(r *rand.Rand, d department, brand, adj int, k kind) string {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	f1 := r.IntN(len(d.features))
	f2 := (f1 + 1 + r.IntN(len(d.features)-1)) % len(d.features)
	subject := strings.ToLower(d.adjectives[adj]) + " " + strings.ToLower(k.name)
	lead := fmt.Sprintf("Meet the %s from %s, made of %s.", subject, d.brands[brand], pick(d.materials))
	if d.slug == "books" {
		format := pick(d.materials)
		article := "A"
		if strings.ContainsRune("aeiou", rune(format[0])) {
			article = "An"
		}
		lead = fmt.Sprintf("%s %s novel by %s.", article, format, d.brands[brand])
	}
	pitch := d.pitch
	if pitch == "" {
		pitch = "It comes with"
	}
	u1 := r.IntN(len(d.uses))
	u2 := (u1 + 1 + r.IntN(len(d.uses)-1)) % len(d.uses)
	return fmt.Sprintf("%s %s %s and %s. Perfect for %s and %s. %s",
		lead, pitch, d.features[f1], d.features[f2], d.uses[u1], d.uses[u2], pick(closings))
}

// price is a plausible retail price in k's range, ending in 99 cents.
func price(r *rand.Rand, k kind) int64 {
	dollars := k.min/100 + r.Int64N(k.max/100-k.min/100+1)
	return dollars*100 + 99
}

// stock is mostly a healthy count, sometimes low, now and then sold out.
func stock(r *rand.Rand) int {
	switch n := r.IntN(20); {
	case n == 0:
		return 0
	case n < 4:
		return 1 + r.IntN(5)
	default:
		return 10 + r.IntN(240)
	}
}
