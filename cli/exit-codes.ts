/** peerctl's exit codes, documented in `peerctl --help` and docs/peerctl.md. */
export const EXIT = {
  /** Done: published (and, when waited for, established / onboarded / deleted); plan found no drift. */
  ok: 0,
  /** The operation failed: peering.failed, a dead-lettered request, a deadline passed, a cluster unreachable. */
  failed: 1,
  /** Bad input or usage; nothing was changed. */
  usage: 2,
  /** `plan` found drift. */
  drift: 3,
  /** Interrupted (Ctrl-C). */
  interrupted: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
