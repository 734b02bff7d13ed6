"""Streaming text that never changes once shown, for a decode that reveals positions out of order.

A masked diffusion LM commits tokens anywhere in its block, so only the prefix up to the first still-masked
position is final. `CommittedText` turns successive snapshots of the generated region into deltas of that final
prefix: the deltas concatenate to the answer `generate` returns. It holds back what could still change: a tail that
may be the start of a stop string, and an incomplete character at the end of a byte-level token prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

from unmask.step import answer_text


class CommittedText:
    """Deltas of the committed text of one generated region.

    Args:
        tokenizer: the model's tokenizer.
        mask_id: the mask token id; stop_ids: ids that end the answer (EOS first).
        stop: stop strings (the text is cut before the first).
    """

    def __init__(self, tokenizer, mask_id: int, stop_ids: Sequence[int], stop: Sequence[str] = ()):
        self.tokenizer, self.mask_id, self.stop_ids, self.stop = tokenizer, mask_id, tuple(stop_ids), tuple(stop)
        self.sent = ""
        self.committed_tokens = 0

    def update(self, tokens: Sequence[int]) -> str:
        """The new committed text since the last call, given the region's tokens now (`mask_id` where masked)."""
        tokens = list(tokens)
        self.committed_tokens = tokens.index(self.mask_id) if self.mask_id in tokens else len(tokens)
        prefix = tokens[: self.committed_tokens]
        text = answer_text(self.tokenizer, prefix, self.mask_id, self.stop_ids, self.stop)
        ended = any(t in self.stop_ids for t in prefix) or text != answer_text(
            self.tokenizer, prefix, self.mask_id, self.stop_ids, ())
        if not ended and self.committed_tokens < len(tokens):
            text = self._hold_back(text)
        return self._advance(text)

    def finish(self, text: str) -> str:
        """The rest of the final answer `text` (what `generate` returned) after what was already sent."""
        return self._advance(text)

    def _hold_back(self, text: str) -> str:
        """Drop a tail that later tokens may still change: a partial character, or a possible stop-string start."""
        text = text.rstrip("\ufffd")
        for stop in self.stop:
            for n in range(min(len(stop) - 1, len(text)), 0, -1):
                if text.endswith(stop[:n]):
                    text = text[:-n]
                    break
        return text

    def _advance(self, text: str) -> str:
        if len(text) <= len(self.sent) or not text.startswith(self.sent):
            return ""
        delta, self.sent = text[len(self.sent):], text
        return delta
