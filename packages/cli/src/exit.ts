/** Exit codes: 0 success, 1 a check failed or the input was bad, 2 usage error, 70 internal error. */
export const EXIT = { ok: 0, failure: 1, usage: 2, internal: 70 } as const;

/** Version of the `--json` output formats documented in the README. */
export const JSON_FORMAT_VERSION = 1;
