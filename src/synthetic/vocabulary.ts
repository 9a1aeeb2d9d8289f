/**
 * The word lists of the fictional brand "Skylark Outfitters" (travel gear sold online, in an app and in stores,
 * with the "Skylark Miles" loyalty programme): people's names, places, the product catalogue, pages and
 * campaign themes. The simulation draws indices into these lists; SQL turns the indices back into text.
 * Email domains are the reserved `example.*` names, so no generated address can reach anybody.
 */

export const BRAND = {
  name: 'Skylark Outfitters',
  programme: 'Skylark Miles',
  site: 'https://shop.skylark.example',
  currency: 'USD',
} as const;

export const FEMALE_NAMES = [
  'Olivia', 'Emma', 'Ava', 'Sophia', 'Isabella', 'Mia', 'Amelia', 'Harper', 'Evelyn', 'Abigail', 'Emily', 'Ella',
  'Elizabeth', 'Camila', 'Luna', 'Sofia', 'Avery', 'Mila', 'Aria', 'Scarlett', 'Penelope', 'Layla', 'Chloe', 'Victoria',
  'Madison', 'Eleanor', 'Grace', 'Nora', 'Riley', 'Zoey', 'Hannah', 'Hazel', 'Lily', 'Ellie', 'Violet', 'Lillian',
  'Zoe', 'Stella', 'Aurora', 'Natalie', 'Emilia', 'Everly', 'Leah', 'Aubrey', 'Willow', 'Addison', 'Lucy', 'Audrey',
  'Bella', 'Nova', 'Brooklyn', 'Paisley', 'Savannah', 'Claire', 'Skylar', 'Isla', 'Genesis', 'Naomi', 'Elena', 'Caroline',
  'Eliana', 'Anna', 'Maya', 'Valentina', 'Ruby', 'Kennedy', 'Ivy', 'Ariana', 'Aaliyah', 'Cora', 'Madelyn', 'Alice',
  'Kinsley', 'Hailey', 'Gabriella', 'Allison', 'Gianna', 'Serenity', 'Samantha', 'Sarah', 'Siobhan', 'Ingrid', 'Priya', 'Mei',
];

export const MALE_NAMES = [
  'Liam', 'Noah', 'Oliver', 'Elijah', 'James', 'William', 'Benjamin', 'Lucas', 'Henry', 'Theodore', 'Jack', 'Levi',
  'Alexander', 'Jackson', 'Mateo', 'Daniel', 'Michael', 'Mason', 'Sebastian', 'Ethan', 'Logan', 'Owen', 'Samuel', 'Jacob',
  'Asher', 'Aiden', 'John', 'Joseph', 'Wyatt', 'David', 'Leo', 'Luke', 'Julian', 'Hudson', 'Grayson', 'Matthew',
  'Ezra', 'Gabriel', 'Carter', 'Isaac', 'Jayden', 'Luca', 'Anthony', 'Dylan', 'Lincoln', 'Thomas', 'Maverick', 'Elias',
  'Josiah', 'Charles', 'Caleb', 'Christopher', 'Ezekiel', 'Miles', 'Jaxon', 'Isaiah', 'Andrew', 'Joshua', 'Nathan', 'Nolan',
  'Adrian', 'Cameron', 'Santiago', 'Eli', 'Aaron', 'Ryan', 'Angel', 'Cooper', 'Waylon', 'Easton', 'Kai', 'Christian',
  'Landon', 'Colton', 'Roman', 'Axel', 'Brooks', 'Jonathan', 'Robert', 'Jameson', 'Rahul', 'Kenji', 'Tomasz', 'Sean',
];

export const LAST_NAMES = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez', 'Lopez',
  'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson', 'White',
  'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott',
  'Torres', 'Nguyen', 'Hill', 'Flores', 'Green', 'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell',
  'Carter', 'Roberts', 'Gomez', 'Phillips', 'Evans', 'Turner', 'Diaz', 'Parker', 'Cruz', 'Edwards', 'Collins', 'Reyes',
  'Stewart', 'Morris', 'Morales', 'Murphy', 'Cook', 'Rogers', 'Gutierrez', 'Ortiz', 'Morgan', 'Cooper', 'Peterson', 'Bailey',
  'Reed', 'Kelly', 'Howard', 'Ramos', 'Kim', 'Cox', 'Ward', 'Richardson', 'Watson', 'Brooks', 'Chavez', 'Wood',
  'James', 'Bennett', 'Gray', 'Mendoza', 'Ruiz', 'Hughes', 'Price', 'Alvarez', 'Castillo', 'Sanders', 'Patel', 'Myers',
  'Long', 'Ross', 'Foster', 'Jimenez', "O'Brien", "O'Connor", 'McAllister', 'Van der Berg', 'Novak', 'Kowalski', 'Schmidt', 'Müller',
  'Dubois', 'Rossi', 'Andersson', 'Nakamura', 'Tanaka', 'Okafor', 'Mensah', 'Singh', 'Chen', 'Wang', 'Li', 'Zhang',
];

/** Letters only, lower case: what an email address is built from (`O'Brien` → `obrien`, `Müller` → `muller`). */
export function emailSafe(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z]/g, '');
}

/** Reserved example domains with the share of people using each. */
export const EMAIL_DOMAINS: readonly (readonly [string, number])[] = [
  ['example.com', 40],
  ['mail.example.com', 20],
  ['example.net', 15],
  ['inbox.example.org', 12],
  ['example.org', 8],
  ['post.example.net', 5],
];

export const STREETS = [
  'Maple Street', 'Oak Avenue', 'Pine Road', 'Cedar Lane', 'Elm Street', 'Birch Way', 'Willow Drive', 'Harbor View',
  'Lakeside Drive', 'Sunset Boulevard', 'Hillcrest Road', 'Riverside Avenue', 'Park Place', 'Station Road', 'Market Street',
  'Church Lane', 'Mill Road', 'Orchard Close', 'Meadow Lane', 'Forest Avenue', 'Ocean Drive', 'Highland Avenue',
  'Spring Street', 'Chestnut Street', 'Ash Grove', 'Valley Road', 'King Street', 'Queen Street', 'Bridge Street', 'Kingsway',
];

/** City, region, postal code prefix, ISO country. */
export const CITIES: readonly (readonly [string, string, string, string])[] = [
  ['Seattle', 'WA', '981', 'US'], ['Portland', 'OR', '972', 'US'], ['San Francisco', 'CA', '941', 'US'], ['Los Angeles', 'CA', '900', 'US'],
  ['San Diego', 'CA', '921', 'US'], ['Denver', 'CO', '802', 'US'], ['Austin', 'TX', '787', 'US'], ['Houston', 'TX', '770', 'US'],
  ['Chicago', 'IL', '606', 'US'], ['Minneapolis', 'MN', '554', 'US'], ['Detroit', 'MI', '482', 'US'], ['Atlanta', 'GA', '303', 'US'],
  ['Miami', 'FL', '331', 'US'], ['Orlando', 'FL', '328', 'US'], ['Boston', 'MA', '021', 'US'], ['New York', 'NY', '100', 'US'],
  ['Philadelphia', 'PA', '191', 'US'], ['Washington', 'DC', '200', 'US'], ['Phoenix', 'AZ', '850', 'US'], ['Salt Lake City', 'UT', '841', 'US'],
  ['Nashville', 'TN', '372', 'US'], ['Raleigh', 'NC', '276', 'US'], ['Toronto', 'ON', 'M5V', 'CA'], ['Vancouver', 'BC', 'V6B', 'CA'],
  ['Montreal', 'QC', 'H2X', 'CA'], ['London', 'ENG', 'EC1', 'GB'], ['Manchester', 'ENG', 'M1', 'GB'], ['Edinburgh', 'SCT', 'EH1', 'GB'],
  ['Berlin', 'BE', '101', 'DE'], ['Munich', 'BY', '803', 'DE'], ['Paris', 'IDF', '750', 'FR'], ['Dublin', 'L', 'D02', 'IE'],
];

const PRODUCT_ADJECTIVES = ['Carry-On', 'Weekender', 'Ultralight', 'Expedition', 'Compact', 'Waterproof', 'Packable', 'Classic', 'Nomad', 'Summit', 'Urban', 'Coastal'];
const PRODUCT_NOUNS = [
  'Suitcase', 'Duffel Bag', 'Backpack', 'Packing Cubes', 'Travel Pillow', 'Rain Jacket', 'Toiletry Kit', 'Passport Wallet',
  'Water Bottle', 'Sling Bag', 'Garment Bag', 'Luggage Tag', 'Power Bank', 'Travel Adapter', 'Eye Mask', 'Compression Socks',
  'Hiking Boots', 'Sun Hat', 'Daypack', 'Laptop Sleeve',
];

/**
 * The catalogue: every adjective × noun, with a SKU and a list price in cents (a fixed formula, so it needs no
 * randomness); the simulation only draws indices into it.
 */
export const PRODUCTS: readonly { sku: string; name: string; cents: number }[] = PRODUCT_ADJECTIVES.flatMap((adjective, a) =>
  PRODUCT_NOUNS.map((noun, n) => ({
    sku: `SKL-${String(a * 100 + n).padStart(4, '0')}`,
    name: `${adjective} ${noun}`,
    cents: 900 + ((a * 7919 + n * 104_729) % 120) * 250 - 1,
  })),
);

/** Physical stores (orders in the store channel name one). */
export const STORES = 40;

/** Landing pages of browsing sessions (the product pages come from the catalogue). */
export const PAGES: readonly (readonly [string, string])[] = [
  ['Home', '/'],
  ['Luggage', '/c/luggage'],
  ['Backpacks', '/c/backpacks'],
  ['Travel accessories', '/c/accessories'],
  ['Outdoor clothing', '/c/clothing'],
  ['New arrivals', '/new'],
  ['Sale', '/sale'],
  ['Skylark Miles', '/miles'],
  ['Search results', '/search'],
  ['Store finder', '/stores'],
];

export const REFERRERS = ['', 'https://search.example.com/', 'https://social.example.net/', 'https://news.example.org/travel', 'https://mail.example.com/'];

export const CAMPAIGN_THEMES = [
  'New year getaway', 'Winter escape', 'Spring sale', 'Easter weekender', 'Summer adventure', 'Festival season',
  'Back to school', 'Autumn trails', 'Members-only preview', 'Black Friday', 'Holiday gifting', 'Year in travel',
];

export const DEVICE_TYPES = ['desktop', 'mobile', 'tablet'] as const;
export const DEVICE_MODELS: Record<(typeof DEVICE_TYPES)[number], readonly string[]> = {
  desktop: ['Windows PC', 'MacBook', 'iMac', 'Chromebook', 'Linux PC'],
  mobile: ['iPhone 15', 'iPhone 13', 'Pixel 8', 'Galaxy S23', 'Galaxy A54', 'Moto G'],
  tablet: ['iPad', 'iPad Air', 'Galaxy Tab', 'Fire HD'],
};

export const TIERS = ['FLYER', 'FREQUENT', 'SILVER', 'GOLD'] as const;
export type Tier = (typeof TIERS)[number];
