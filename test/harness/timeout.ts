/**
 * jest setupFilesAfterEnv entry of the integration project. jest reads `testTimeout` only from
 * the top-level config, never from a project, so a project's own default has to be set here:
 * integration tests talk to real brokers and JVMs sharing a small CI machine with the unit and
 * browser projects. Files whose tests start connector processes set their own, longer ones.
 */
jest.setTimeout(120_000);
