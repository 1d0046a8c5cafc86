#!/usr/bin/env node
// peerctl, the command line of consul-peering-automation (docs/peerctl.md). It runs the TypeScript
// sources through tsx: no build step, and no bundle to keep in sync with cli/.
import { register } from 'tsx/esm/api';

register();
const { runAsProcess } = await import('../cli/peerctl.ts');
await runAsProcess();
