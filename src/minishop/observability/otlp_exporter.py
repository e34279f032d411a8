"""The SDK's OTLP/HTTP span exporter with the direct encoder of ``otlp_encoding``.

Everything else is the SDK's: endpoint, headers, timeout and compression from the
standard variables, retries with backoff. The SDK exporter has no hook for another
encoder, so this reaches its HTTP client (``_client.export(bytes)``, SDK 1.45);
should a later SDK change that, the exporter falls back to the SDK's own encoding
rather than fail (a test pins the fast path for the installed SDK).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from minishop.observability.otlp_encoding import encode_trace_request

_log = logging.getLogger(__name__)


class DirectOTLPSpanExporter(OTLPSpanExporter):
    @property
    def encodes_directly(self) -> bool:
        return callable(getattr(getattr(self, "_client", None), "export", None))

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not self.encodes_directly:
            return super().export(spans)
        if self._shutdown:
            return SpanExportResult.FAILURE
        try:
            data = encode_trace_request(spans)
        except Exception:  # a span the encoder cannot write: the SDK's encoder decides
            _log.exception("direct OTLP encoding failed, using the SDK encoder")
            return super().export(spans)
        result = self._client.export(data)
        return SpanExportResult.SUCCESS if result.success else SpanExportResult.FAILURE
