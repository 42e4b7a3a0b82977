"""The one exception the symbolic engine lets out for bad input, with its position."""

from __future__ import annotations


class SymbolicError(ValueError):
    """An expression that cannot be parsed, shape-checked or differentiated.

    ``line`` and ``column`` are 1-based and point into ``source`` when the error has a
    position; ``str(err)`` then shows the line with a caret under the spot.

    >>> from matdiff.symbolic import parse, SymbolicError
    >>> try:
    ...     parse("x*y")
    ... except SymbolicError as err:
    ...     print(err.column)
    2
    """

    def __init__(
        self,
        message: str,
        source: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.column = column
        super().__init__(self._render())

    def _render(self) -> str:
        if self.source is None or self.line is None or self.column is None:
            return self.message
        lines = self.source.split("\n")
        text = lines[self.line - 1] if 0 < self.line <= len(lines) else ""
        caret = " " * (self.column - 1) + "^"
        return f"line {self.line}, column {self.column}: {self.message}\n  {text}\n  {caret}"

    def __reduce__(self):
        return (type(self), (self.message, self.source, self.line, self.column))


class CheckError(AssertionError):
    """A derivative that disagrees with finite differences or with the numeric engine."""
