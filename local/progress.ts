/**
 * Progress lines for people watching the local pipeline (npm run demo, npm start, peerctl): one per
 * event the pipeline publishes, and one per retry, dead letter or new reason to wait.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { PipelineEvent } from '#commons/events/index';
import type { QueueHandlerHooks } from '#commons/handler/queue-handler';
import type { WorkflowHooks } from '#commons/workflows/context';
import { redactingReplacer } from '#commons/observability/redact';

export function describeEvent(event: PipelineEvent): string {
  switch (event.type) {
    case 'cluster.registered':
      return `cluster.registered      ${event.data.cluster.name} (onboard: gateway ACL token, ${event.data.gateway === undefined ? 'existing gateway' : `gateway ${event.data.gateway.wan.address}:${event.data.gateway.wan.port}`}, mesh config)`;
    case 'peering.requested':
      return `peering.requested       ${event.data.acceptor.name} accepts, ${event.data.dialer.name} dials${event.data.regenerateToken === true ? ' (new token)' : ''}${event.data.exportServices === undefined ? '' : `, exports ${event.data.exportServices.join(',') || 'none'}`}`;
    case 'peering.acceptor-ready':
      return `peering.acceptor-ready  ${event.data.acceptor.name} -> ${event.data.dialer.name}: token stored as ${event.data.tokenSecret} (version ${event.data.tokenVersion.slice(0, 8)}…), attempt ${event.data.attempt}`;
    case 'peering.established':
      return `peering.established     ${event.data.acceptor.name} ${event.data.acceptorState} / ${event.data.dialer.name} ${event.data.dialerState}`;
    case 'peering.failed':
      return `peering.failed          ${event.data.acceptor.name} -> ${event.data.dialer.name}: ${event.data.reason}: ${event.data.message}`;
  }
}

/** The handlers' logger for the local pipeline: JSON logs (to stdout) only with --verbose, redacted. */
export function localLogger(serviceName: string, verbose: boolean): Logger {
  return new Logger({
    serviceName,
    logLevel: verbose ? 'INFO' : 'SILENT',
    jsonReplacerFn: redactingReplacer,
  });
}

/**
 * Progress lines from the handlers' and workflows' hooks: one per retry and dead letter, and one per
 * new reason the dialer gives for waiting (not one per re-check). The hooks hand over scrubbed
 * messages; nothing here reads log text.
 */
export function progressHooks(out: { progress(line: string): void }): QueueHandlerHooks & WorkflowHooks {
  const waitsShown = new Set<string>();
  return {
    onRetry: ({ reason, message, receiveCount, retryInSeconds }) => {
      out.progress(
        `retry                   ${reason}: ${message} (delivery ${receiveCount}; again in ${retryInSeconds} s)`,
      );
    },
    onDeadLetter: ({ reason, message }) => {
      out.progress(`dead-lettered           ${reason}: ${message}`);
    },
    onWaiting: ({ reason, detail, delaySeconds }) => {
      const line = `waiting                 ${reason}: ${detail}`;
      if (waitsShown.has(line)) return;
      waitsShown.add(line);
      out.progress(`${line} (checked again in ${delaySeconds} s, then by backoff)`);
    },
  };
}
