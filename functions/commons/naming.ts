/**
 * The secret naming scheme. Everything we store lives under one prefix, so IAM can be scoped to it
 * and drift scans can list it: `<prefix>/clusters/<cluster>` (connection details),
 * `<prefix>/gateway-tokens/<cluster>` (the mesh gateway's ACL token) and
 * `<prefix>/peering-tokens/<acceptor>/<dialer>` (the acceptor's current peering token) and
 * `<prefix>/peerings/<acceptor>/<dialer>` (a wanted peering: the desired state drift scans compare with).
 */
export const DEFAULT_SECRET_PREFIX = 'consul-peering';

export const clusterSecretName = (prefix: string, cluster: string): string => `${prefix}/clusters/${cluster}`;

export const gatewayTokenSecretName = (prefix: string, cluster: string): string =>
  `${prefix}/gateway-tokens/${cluster}`;

export const peeringTokenSecretName = (prefix: string, acceptor: string, dialer: string): string =>
  `${prefix}/peering-tokens/${acceptor}/${dialer}`;

/** The desired state of one peering (who accepts, who dials, what is exported): drift scans start here. */
export const peeringRecordSecretName = (prefix: string, acceptor: string, dialer: string): string =>
  `${prefix}/peerings/${acceptor}/${dialer}`;

/** Tags on peering-token secrets, so a scan can find the pair without parsing names. */
export const TAG_ACCEPTOR = 'consul-peering:acceptor';
export const TAG_DIALER = 'consul-peering:dialer';
export const TAG_KIND = 'consul-peering:kind';

/** Stamped into `Meta` of what we write in Consul (mesh entry, peerings), as consul-k8s does. */
export const MANAGED_BY_KEY = 'managed-by';
export const MANAGED_BY_VALUE = 'consul-peering-automation';
