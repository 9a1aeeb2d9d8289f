/**
 * Test fixtures shared by catalog and API tests: a loyalty profile schema and an event schema in the shape of
 * the reference's airline example, with nested objects, a map (the decile type), arrays and identities.
 */
export const LOYALTY_SCHEMA = {
  title: 'Airline loyalty profile',
  class: 'profile',
  fieldGroups: ['person-details', 'personal-contact-details', 'identity-map'],
  fields: {
    membershipNumber: { type: 'string' },
    loyaltyStatus: { type: 'string', enum: ['FLYER', 'FREQUENT', 'SILVER', 'GOLD'] },
    decilesMileage: { $ref: 'deciles' },
    favouriteRoutes: { type: 'array', items: { type: 'string' } },
    lastFlight: { type: 'object', properties: { date: { type: 'string', format: 'date' }, miles: { type: 'integer' } } },
  },
  identities: [
    { path: '_roundtrip.membershipNumber', namespace: 'CRMID', primary: true },
    { path: 'personalEmail.address', namespace: 'Email' },
  ],
} as const;

export const LOYALTY_RECORD = {
  _id: 'rec-1',
  person: { name: { firstName: 'Pat', lastName: 'Galton' }, birthDate: '1980-02-29' },
  personalEmail: { address: 'pgalton32n@barnesandnoble.com' },
  identityMap: { ECID: [{ id: '0123456789', authenticatedState: 'authenticated', primary: false }] },
  _roundtrip: {
    membershipNumber: 'B789279247',
    loyaltyStatus: 'SILVER',
    decilesMileage: { decileMonth1: { SILVER: 2 }, decileMonthAll: { SILVER: 1, GOLD: 10 } },
    favouriteRoutes: ['JFK-FRA', 'FRA-JFK'],
    lastFlight: { date: '2022-02-10', miles: 5000 },
  },
};

export const EVENT_SCHEMA = {
  title: 'Commerce events',
  class: 'experienceevent',
  fieldGroups: ['commerce-details', 'identity-map'],
} as const;
