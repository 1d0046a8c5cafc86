/** Help sections shared by several commands. */
import { DEFAULT_SECRET_PREFIX } from '#commons/naming';
import { DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_SECONDS } from './options';

export const BACKEND_HELP = `backend
  (default)            local: secrets in a 0600 file (--secrets-file, default
                       $XDG_STATE_HOME/consul-peering-automation/secrets.json, else under ~/.local/state)
                       and the pipeline's handlers run in this process on in-process queues
  --aws                Secrets Manager and the deployed pipeline's SQS queues; region and credentials
                       from your AWS configuration; AWS_ENDPOINT_URL=http://127.0.0.1:PORT for moto
  --secrets-file FILE  the local secret file
  --secret-prefix P    secret name prefix (default $SECRET_PREFIX, else "${DEFAULT_SECRET_PREFIX}")`;

export const WAIT_HELP = `waiting
  -w, --wait           wait for the outcome. Always on for the local backend (its queues live in this
                       process); with --aws, peerctl otherwise returns once the event is published
  -t, --timeout SECS   how long to wait (default ${DEFAULT_TIMEOUT_SECONDS})
  -v, --verbose        also print the handlers' JSON logs (local backend)`;

export const CONCURRENCY_HELP = `  --concurrency N      clusters read at the same time (default ${DEFAULT_CONCURRENCY})`;

export const EXIT_CODES_HELP = `exit codes
  0  done   1  failed (peering.failed, dead letter, timeout, unreachable)   2  bad input   3  drift (plan)`;
