/**
 * @datapunk/breaker-redis: fleet mode for Datapunk Breaker. Replicas share their breakers'
 * time-window evidence and trips through Redis (ioredis) and each decides locally; the protocol is
 * the core's (`planRound`, `absorbRound`, `hearPeer`), Redis its transport.
 */
export { fleetMode } from './fleetMode.js'
export type { FleetAttachment, FleetEvent, FleetHealth, FleetLogger, FleetOptions } from './model.js'
