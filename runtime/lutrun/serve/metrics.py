"""``GET /metrics``: the service's counters in Prometheus' text format, from prometheus_client.

A custom collector reads the service's own counters at scrape time, so the
hot path never calls into the client library; the latency histograms are
the bucket counts the hub keeps (lutrun.serve.hub.BUCKETS_S).
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, InfoMetricFamily
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from lutrun.serve.hub import BUCKETS_S

if TYPE_CHECKING:
    from lutrun.serve.service import Service

CONTENT_TYPE = CONTENT_TYPE_LATEST


class ServiceCollector:
    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Any]:
        service = self.service
        counts = service.counters()
        for name, key, text in (("lutrun_frames", "frames", "Frames classified."),
                                ("lutrun_dropped_frames", "dropped", "Frames dropped (latest-wins policy)."),
                                ("lutrun_source_reconnects", "reconnects", "Live sources reopened after a failure."),
                                ("lutrun_model_swaps", "model_swaps", "Models uploaded and installed."),
                                ("lutrun_model_swap_failures", "model_swap_failures", "Model uploads rejected.")):
            yield CounterMetricFamily(name, text, value=counts[key])
        engine, model = service.engine_info(), service.model_info()
        info = InfoMetricFamily("lutrun_engine", "The engine in use.", labels=())
        info.add_metric([], {"engine": engine["engine"], "specialised": str(engine.get("specialised", "")),
                             "simd": str(engine.get("simd", "")), "fallback": "true" if engine.get("note") else "false"})
        yield info
        info = InfoMetricFamily("lutrun_model", "The model in use; digest is its first 16 hex digits.", labels=())
        info.add_metric([], {"digest": model["digest"], "name": model["name"], "luts": str(model["luts"]),
                             "frames": str(model["frames"])})
        yield info
        yield GaugeMetricFamily("lutrun_fps", "Frames per second over the last seconds.", value=service.fps())
        yield GaugeMetricFamily("lutrun_websocket_clients", "Open WebSocket clients.", value=service.websocket_clients)
        live = GaugeMetricFamily("lutrun_source_up", "1 while a source streams.", labels=["source"])
        for source in service.sources_status():
            live.add_metric([source["source"]], 1.0 if source["state"] == "streaming" else 0.0)
        yield live
        buckets, sums = service.hub.snapshot()
        family = HistogramMetricFamily("lutrun_stage_latency_seconds", "Per-frame latency of each pipeline stage "
                                       "(e2e: arrival to result).", labels=["stage"])
        for stage, counts in buckets.items():
            cumulative = counts.cumsum().tolist()
            edges = [(f"{b:g}", c) for b, c in zip(BUCKETS_S, cumulative)] + [("+Inf", cumulative[-1])]
            family.add_metric([stage], edges, sums[stage])
        yield family
        if service.mqtt is not None:
            mqtt = service.mqtt.status()
            yield GaugeMetricFamily("lutrun_mqtt_connected", "1 while the broker is connected.",
                                    value=float(mqtt["connected"]))
            yield CounterMetricFamily("lutrun_mqtt_messages_dropped", "Results lost while the broker was away.",
                                      value=mqtt["dropped"])


def registry_for(service: Service) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServiceCollector(service))  # type: ignore[arg-type]
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
