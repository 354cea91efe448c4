//! Default and development data for the OHT-50 database (filled by the seeding issue).
