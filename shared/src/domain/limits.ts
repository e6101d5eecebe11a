// Hard limits of the domain. Limits that operators tune live in config.ts; these are the
// shape limits that keep every request and every seat map bounded.

export const sectionsPerEventMax = 200;
export const subsectionsPerSectionMax = 200;
export const subsectionsPerEventMax = 2000;
export const rowsPerSubsectionMax = 1000;
export const seatsPerRowMax = 1000;
// A subsection's seat map travels whole in one Redis string and one HTTP response.
export const seatsPerSubsectionMax = 100_000;
export const priceCentsMax = 100_000_000;
export const nameLengthMax = 200;
export const sectionNameLengthMax = 32;

export const bookingBodyBytesMax = 4 * 1024;
export const eventBodyBytesMax = 512 * 1024;
