/**
 * @datapunk/breaker-prometheus: Prometheus metrics (prom-client) for Datapunk Breaker.
 */
export { metricCatalogue } from './metricCatalogue.js'
export { type PrometheusAttachment, type PrometheusOptions, prometheusMetrics } from './prometheusMetrics.js'
export { type ScrapeHandlerOptions, scrapeHandler } from './scrapeHandler.js'
