/** One service the integration tests talk to, either started by the harness or found running. */
export interface StartedService {
  /** "Kafka", "Apicurio Registry", "Redis". */
  readonly name: string;
  /** The value handed to tests: broker list, registry base URL or Redis URL. */
  readonly address: string;
  /** True when the harness started the process (and so must stop it). */
  readonly owned: boolean;
  /** The process the harness started, for tests that crash it; absent for an existing service. */
  readonly pid?: number;
  /** Stops what the harness started; a no-op for an existing service. Never throws. */
  stop(): Promise<void>;
}

/** A service the harness can stop and start again on the same address and data (chaos runs). */
export interface RestartableService {
  /** Stops the process (SIGTERM, then SIGKILL after a grace) and starts it again; resolves when it answers. */
  restart(): Promise<void>;
}
