/** One error entry as Salesforce's REST API returns it (a response body is an array of these). */
export interface ApiErrorEntry {
  message: string;
  errorCode: string;
  fields?: string[];
}

/**
 * A Salesforce-shaped failure: an HTTP status plus the JSON array body. Thrown inside the
 * sandbox's handlers and turned into a response by the error middleware; never leaves the
 * sandbox (the connector sees it only through HTTP, like a real org's answer).
 */
export class ApiFault extends Error {
  readonly status: number;
  readonly errors: ApiErrorEntry[];

  constructor(status: number, errorCode: string, message: string, fields?: string[]) {
    super(message);
    this.name = 'ApiFault';
    this.status = status;
    this.errors = [{ message, errorCode, ...(fields ? { fields } : {}) }];
  }
}

/** A per-record failure (sObject Collections and Bulk results use `statusCode`, not `errorCode`). */
export interface RecordError {
  statusCode: string;
  message: string;
  fields: string[];
}

/** Validation failure of one record; becomes a 400 for single-record calls or an item error. */
export class RecordFault extends Error {
  readonly error: RecordError;

  constructor(statusCode: string, message: string, fields: string[] = []) {
    super(message);
    this.name = 'RecordFault';
    this.error = { statusCode, message, fields };
  }

  /** The single-record REST form of this failure. */
  toApiFault(status = 400): ApiFault {
    return new ApiFault(status, this.error.statusCode, this.error.message, this.error.fields);
  }
}
