import type { PipelineEvent } from '../../events';

/** What can differ between the desired state (the secret store) and the actual state (Consul). */
export type DriftKind =
  | 'cluster-unreachable'
  | 'mesh-config-missing'
  | 'mesh-flag-off'
  | 'gateway-missing'
  | 'gateway-not-passing'
  | 'gateway-token-secret-missing'
  | 'gateway-token-missing-in-consul'
  | 'peering-missing'
  | 'peering-failing'
  | 'peering-terminated'
  | 'peering-pending-too-long'
  | 'orphan-peering-token'
  | 'secret-not-under-our-key';

/** Every kind, in a stable order (metrics emit one value per kind, zeros included, so alarms see data). */
export const DRIFT_KINDS: readonly DriftKind[] = [
  'cluster-unreachable',
  'mesh-config-missing',
  'mesh-flag-off',
  'gateway-missing',
  'gateway-not-passing',
  'gateway-token-secret-missing',
  'gateway-token-missing-in-consul',
  'peering-missing',
  'peering-failing',
  'peering-terminated',
  'peering-pending-too-long',
  'orphan-peering-token',
  'secret-not-under-our-key',
];

/**
 * One difference. For cluster kinds `cluster` is the cluster and `peer` is absent. For peering kinds
 * and orphan tokens the pair is always named the way the secrets are: `cluster` is the acceptor and
 * `peer` the dialer, whichever side shows the problem (`detail` says which).
 */
export interface DriftFinding {
  kind: DriftKind;
  cluster: string;
  peer?: string;
  /** What was seen, for a person; never holds a secret value. */
  detail: string;
  /** What remediation does about it, in human words. */
  remedy: string;
}

export interface DriftReport {
  /** ISO time the scan started. */
  scannedAt: string;
  /** Registered clusters (connection secrets) scanned. */
  clusters: number;
  /** Wanted peerings (peering records) compared. */
  peerings: number;
  /** Sorted by cluster, peer, kind. */
  findings: DriftFinding[];
  /** Consul API calls the scan made (reads only). */
  consulCalls: number;
}

export interface RemediationResult {
  /** The events published (in a dry run: the events that would have been published). */
  published: PipelineEvent[];
  /** The secrets deleted (in a dry run: the secrets that would have been deleted). */
  deletedSecrets: string[];
}

export const CLUSTER_KINDS: ReadonlySet<DriftKind> = new Set([
  'mesh-config-missing',
  'mesh-flag-off',
  'gateway-missing',
  'gateway-not-passing',
  'gateway-token-secret-missing',
  'gateway-token-missing-in-consul',
]);

export const PEERING_KINDS: ReadonlySet<DriftKind> = new Set([
  'peering-missing',
  'peering-failing',
  'peering-terminated',
  'peering-pending-too-long',
]);

/** Peering kinds whose stored token cannot complete the peering: the acceptor must issue a new one. */
export const NEEDS_NEW_TOKEN: ReadonlySet<DriftKind> = new Set([
  'peering-missing',
  'peering-terminated',
  'peering-pending-too-long',
]);

/**
 * Remedies a person must carry out start with this; remediation acts on every other finding. So the
 * report says, finding by finding, what a run will do and what it leaves to people.
 */
export const MANUAL_REMEDY = 'needs a person: ';

export const isAutomatic = (finding: DriftFinding): boolean => !finding.remedy.startsWith(MANUAL_REMEDY);

const ONBOARD = 're-runs onboarding (cluster.registered)';

/**
 * Onboarding can only register a gateway whose addresses it is given (the connection secret's
 * `gateway`); without them a missing or failing gateway needs a person, and onboarding would only wait.
 */
export function remedyFor(kind: DriftKind, gatewayAddressesKnown = false): string {
  switch (kind) {
    case 'cluster-unreachable':
      return `${MANUAL_REMEDY}check the network path to Consul and the connection secret (the next scan checks again); its peerings were not compared`;
    case 'mesh-config-missing':
    case 'mesh-flag-off':
      return `${ONBOARD}, which sets Peering.PeerThroughMeshGateways in the mesh config entry (merged, CAS write)`;
    case 'gateway-missing':
      return gatewayAddressesKnown
        ? `${ONBOARD} with the gateway addresses from the connection secret, which registers the gateway again`
        : `${MANUAL_REMEDY}register the mesh gateway, or add its addresses (gateway) to the connection secret so the automation can`;
    case 'gateway-not-passing':
      return gatewayAddressesKnown
        ? `${ONBOARD}, which re-registers the gateway if its addresses differ from the connection secret's; a gateway process that is down needs a person`
        : `${MANUAL_REMEDY}the mesh gateway is registered but failing its health checks (is the gateway process up?)`;
    case 'gateway-token-secret-missing':
      return `${ONBOARD}, which issues a new gateway ACL token and stores it (the old token, if any, stays in Consul until deleted)`;
    case 'gateway-token-missing-in-consul':
      return `${ONBOARD}, which creates the gateway ACL token again with the IDs kept in the secret (the gateway keeps working with the same SecretID)`;
    case 'peering-missing':
    case 'peering-terminated':
    case 'peering-pending-too-long':
      return 'requests the peering again (peering.requested) with a new token; the acceptor clears a TERMINATED record first';
    case 'peering-failing':
      return 'requests the peering again (peering.requested); the dialer re-establishes, asking for a new token if the stored one is spent';
    case 'orphan-peering-token':
      return 'deletes the token secret (no recovery window): no wanted peering uses it';
    case 'secret-not-under-our-key':
      // Never re-encrypted behind anyone's back: UpdateSecret re-encrypts the labelled versions, but a
      // version stays readable with the old key until a new one is written (docs/deploy.md).
      return `${MANUAL_REMEDY}aws secretsmanager update-secret --secret-id <name> --kms-key-id <SECRETS_KMS_KEY_ID>, then write the value again as a new version so AWSCURRENT is readable with the service's key only`;
  }
}
