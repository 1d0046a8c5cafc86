import type { Peering } from '../ports/consul-types';

/**
 * Consul's own rule (`Peering.ShouldDial`): a record that carries the peer's server addresses is one
 * this cluster dials; one without them is one it accepted. A name is either, never both.
 */
export const isDialingRecord = (peering: Peering): boolean => peering.peerServerAddresses.length > 0;
