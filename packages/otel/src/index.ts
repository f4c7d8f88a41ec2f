/**
 * @datapunk/breaker-otel: OpenTelemetry metrics for Datapunk Breaker.
 */
export { instrumentCatalogue, type OtelAttachment, type OtelOptions, otelMetrics } from './otelMetrics.js'
