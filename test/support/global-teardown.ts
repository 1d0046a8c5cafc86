import { OwnedProcess } from '#devkit/owned-process';

/** Anything the main jest process still owns is stopped; workers' processes die with their watchdogs. */
export default async function globalTeardown(): Promise<void> {
  await OwnedProcess.stopAll();
}
