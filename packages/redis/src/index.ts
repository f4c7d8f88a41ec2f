/**
 * @datapunk/breaker-redis: fleet mode for Datapunk Breaker. Replicas share their breakers'
 * time-window evidence and trips through Redis (ioredis) and each decides locally.
 */
export { type FleetAttachment, type FleetEvent, type FleetHealth, type FleetLogger, type FleetOptions, fleetMode } from './fleetMode.js'
