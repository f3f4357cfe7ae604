"""Readers for the text forms of a causal graph: the compact arrow form and DOT (with dagitty's ``dag``).

Both return a :class:`ParsedGraph` (nodes in order of appearance, directed edges, bidirected pairs and
nodes declared latent); :mod:`deconfound.graph` turns it into a checked :class:`CausalGraph`. The DOT
reader is our own small recursive-descent parser, so no Graphviz binding is needed at run time.

Compact form::

    I.H -> Drug; I.H -> Severity      # statements end at ';' or a new line, '#' starts a comment
    Drug -> Severity
    a -> b -> c                        # chains
    x, y -> z                          # several nodes at once
    Drug <-> Severity                  # an unobserved common cause
    "Initial health" -> Drug           # quotes for names with arrows, commas or '#' in them
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import SpecificationError

_ARROWS = {"->": "->", "<-": "<-", "<->": "<->", "--": "--", "→": "->", "←": "<-", "↔": "<->"}


@dataclass
class ParsedGraph:
    """What a text form declares, before any checking."""

    nodes: list[str] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    bidirected: list[tuple[str, str]] = field(default_factory=list)
    latent: list[str] = field(default_factory=list)

    def add_node(self, name: str) -> None:
        if name not in self.nodes:
            self.nodes.append(name)

    def add_edge(self, a: str, arrow: str, b: str, where: str) -> None:
        self.add_node(a)
        self.add_node(b)
        if arrow == "->":
            self.edges.append((a, b))
        elif arrow == "<-":
            self.edges.append((b, a))
        elif arrow == "<->":
            self.bidirected.append((a, b))
        else:
            raise SpecificationError(
                f"undirected edge {a} -- {b} in {where}: a causal graph needs a direction. Write {a} -> {b} "
                f"if {a} causes {b}, or {a} <-> {b} for an unobserved common cause."
            )


def looks_like_dot(text: str) -> bool:
    """True when ``text`` starts like DOT or dagitty (``digraph``, ``strict digraph``, ``graph``, ``dag``)."""
    stripped = _strip_c_comments(text).lstrip()
    return re.match(r"(?is)^(strict\s+)?(di)?graph\b|^dag\b|^pdag\b", stripped) is not None


# --------------------------------------------------------------------------------------------------
# the compact form
# --------------------------------------------------------------------------------------------------

_COMPACT = re.compile(
    r"""(?P<space>[ \t\r\f\v]+)
      | (?P<newline>\n)
      | (?P<comment>\#[^\n]*|//[^\n]*)
      | (?P<quoted>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
      | (?P<arrow><->|->|<-|--|→|←|↔)
      | (?P<sep>;)
      | (?P<comma>,)
      | (?P<word>(?:(?!<->|->|<-|--|//)[^\s;,#"'→←↔])+)
      | (?P<bad>.)""",
    re.VERBOSE,
)


def _unquote(token: str) -> str:
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def _compact_statements(text: str) -> list[tuple[int, list[tuple[str, str]]]]:
    """Split into statements: (line number, [(kind, value), ...]); names with spaces are joined."""
    statements: list[tuple[int, list[tuple[str, str]]]] = []
    current: list[tuple[str, str]] = []
    line = 1
    start_line = 1
    pending_space = False
    for m in _COMPACT.finditer(text):
        kind = m.lastgroup
        value = m.group()
        if kind == "bad":
            raise SpecificationError(f"unexpected character {value!r} on line {line} of the graph text.")
        if kind in ("newline", "sep"):
            if current:
                statements.append((start_line, current))
            current = []
            line += value.count("\n")
            pending_space = False
            continue
        if kind == "space":
            pending_space = True
            continue
        if kind == "comment":
            continue
        if not current:
            start_line = line
        if kind == "word" and current and current[-1][0] == "word" and pending_space:
            current[-1] = ("word", f"{current[-1][1]} {value}")  # "Initial health" without quotes
        elif kind == "quoted":
            current.append(("name", _unquote(value)))
        else:
            current.append((kind or "", value))
        pending_space = False
    if current:
        statements.append((start_line, current))
    return statements


def _check_word(word: str, line: int) -> str:
    if re.search(r"[<>=]", word):
        raise SpecificationError(
            f"{word!r} on line {line} of the graph text is not a node name or arrow; arrows are ->, <- and <-> "
            "(quote a name that really contains '<', '>' or '=')."
        )
    return word


def _statement_groups(tokens: list[tuple[str, str]], line: int, shown: str) -> tuple[list[list[str]], list[str]]:
    groups: list[list[str]] = [[]]
    arrows: list[str] = []
    expect_name = True
    for kind, value in tokens:
        if kind in ("word", "name"):
            if not expect_name:
                raise SpecificationError(f"two node names without an arrow between them in {shown!r} (line {line}).")
            groups[-1].append(_check_word(value, line) if kind == "word" else value)
            expect_name = False
        elif kind == "comma":
            if expect_name:
                raise SpecificationError(f"a ',' without a node name before it in {shown!r} (line {line}).")
            expect_name = True
        else:
            if expect_name:
                raise SpecificationError(
                    f"an arrow {value!r} without a node name before it in {shown!r} (line {line})."
                )
            arrows.append(_ARROWS[value])
            groups.append([])
            expect_name = True
    if expect_name:
        raise SpecificationError(f"{shown!r} (line {line}) ends with {tokens[-1][1]!r}; a node name must follow it.")
    return groups, arrows


def parse_compact(text: str) -> ParsedGraph:
    """Read the compact arrow form (see the module docstring)."""
    out = ParsedGraph()
    for line, tokens in _compact_statements(text):
        shown = " ".join(v for _, v in tokens)
        groups, arrows = _statement_groups(tokens, line, shown)
        for name in (n for g in groups for n in g):
            if not name.strip():
                raise SpecificationError(f"an empty node name in {shown!r} (line {line}).")
            out.add_node(name)
        for left, arrow, right in zip(groups[:-1], arrows, groups[1:]):
            for a in left:
                for b in right:
                    out.add_edge(a, arrow, b, f"{shown!r} (line {line})")
    return out


# --------------------------------------------------------------------------------------------------
# DOT and dagitty
# --------------------------------------------------------------------------------------------------

_DOT = re.compile(
    r"""(?P<space>\s+)
      | (?P<comment>//[^\n]*|/\*.*?\*/|^\#[^\n]*)
      | (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op><->|->|--)
      | (?P<html><)
      | (?P<punct>[{}\[\];,=:])
      | (?P<id>[A-Za-z_\x80-\U0010ffff][A-Za-z_0-9.\x80-\U0010ffff]*|-?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?))
      | (?P<bad>.)""",
    re.VERBOSE | re.DOTALL | re.MULTILINE,
)
_KEYWORDS = {"strict", "graph", "digraph", "dag", "pdag", "node", "edge", "subgraph"}
_LATENT_WORDS = {"latent", "unobserved", "hidden"}


def _strip_c_comments(text: str) -> str:
    return re.sub(r"//[^\n]*|/\*.*?\*/|^#[^\n]*", "", text, flags=re.DOTALL | re.MULTILINE)


def _html_end(text: str, start: int) -> int:
    """Index just past the '>' that closes the HTML-like string opened at ``start`` (nesting allowed)."""
    depth = 0
    for j in range(start, len(text)):
        depth += {"<": 1, ">": -1}.get(text[j], 0)
        if depth == 0:
            return j + 1
    line = text.count("\n", 0, start) + 1
    raise SpecificationError(f"DOT: a '<' on line {line} is never closed with '>'.")


def _dot_tokens(text: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while True:
        m = _DOT.match(text, pos)
        if m is None:
            return tokens
        kind = m.lastgroup or ""
        line = text.count("\n", 0, m.start()) + 1
        value = m.group()
        pos = m.end()
        if kind in ("space", "comment"):
            continue
        if kind == "bad":
            raise SpecificationError(f"unexpected character {value!r} on line {line} of the DOT text.")
        if kind == "string":
            value = re.sub(r"\\\n", "", value[1:-1]).replace('\\"', '"')
            kind = "id"
        elif kind == "html":
            pos = _html_end(text, m.start())
            value, kind = text[m.start() + 1 : pos - 1], "id"
        elif kind == "id" and value.lower() in _KEYWORDS:
            kind = "kw"
            value = value.lower()
        tokens.append((kind, value, line))


class _DotParser:
    def __init__(self, text: str) -> None:
        self.tokens = _dot_tokens(text)
        self.i = 0
        self.out = ParsedGraph()
        self.directed = True
        self.groups: list[list[str]] = []  # open subgraphs, each collecting the nodes named inside it

    # token helpers --------------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> tuple[str, str, int]:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else ("eof", "", self.tokens[-1][2] if self.tokens else 1)

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        self.i += 1
        return tok

    def expect(self, value: str) -> None:
        kind, got, line = self.take()
        if got != value or kind in ("id", "eof"):
            shown = "the end of the text" if kind == "eof" else repr(got)
            raise SpecificationError(f"DOT: expected {value!r} on line {line}, found {shown}.")

    def accept(self, value: str) -> bool:
        kind, got, _ = self.peek()
        if kind in ("punct", "op", "kw") and got == value:
            self.i += 1
            return True
        return False

    # grammar --------------------------------------------------------------------------------------
    def parse(self) -> ParsedGraph:
        self.accept("strict")
        _kind, word, _line = self.take()
        if word == "graph":
            self.directed = False
        elif word not in ("digraph", "dag", "pdag"):
            raise SpecificationError(f"DOT text must start with 'digraph' (or dagitty's 'dag'); found {word!r}.")
        if self.peek()[0] == "id":
            self.take()
        self.expect("{")
        self.statements()
        self.expect("}")
        if self.peek()[0] != "eof":
            _, extra, line = self.peek()
            raise SpecificationError(f"DOT: unexpected {extra!r} after the closing '}}' (line {line}).")
        return self.out

    def statements(self) -> None:
        while True:
            kind, value, _ = self.peek()
            if kind == "eof" or (kind == "punct" and value == "}"):
                return
            if self.accept(";") or self.accept(","):
                continue
            self.statement()

    def statement(self) -> None:
        kind, value, line = self.peek()
        if kind == "kw" and value in ("graph", "node", "edge"):
            self.take()
            self.attributes()
            return
        if kind == "id" and self.peek(1)[1] == "=" and self.peek(1)[0] == "punct":
            self.take(), self.take(), self.take()  # a graph attribute such as rankdir=LR
            return
        left = self.operand()
        if self.peek()[0] == "op":
            self.edges(left, line)
        else:
            attrs = self.attributes()
            for name in left:
                if attrs.keys() & _LATENT_WORDS or attrs.get("style") == "dashed":
                    if attrs.get("latent", "true") != "false" and name not in self.out.latent:
                        self.out.latent.append(name)

    def operand(self) -> list[str]:
        kind, value, line = self.peek()
        if (kind == "kw" and value == "subgraph") or (kind == "punct" and value == "{"):
            return self.subgraph()
        if kind != "id":
            shown = "the end of the text" if kind == "eof" else repr(value)
            raise SpecificationError(f"DOT: expected a node name on line {line}, found {shown}.")
        self.take()
        if self.accept(":"):
            raise SpecificationError(f"DOT: ports ('{value}:...') are not supported (line {line}); name the node only.")
        self.out.add_node(value)
        for group in self.groups:
            group.append(value)
        return [value]

    def subgraph(self) -> list[str]:
        if self.accept("subgraph") and self.peek()[0] == "id":
            self.take()
        self.expect("{")
        self.groups.append([])
        self.statements()
        self.expect("}")
        return list(dict.fromkeys(self.groups.pop()))

    def edges(self, left: list[str], line: int) -> None:
        chain = [left]
        ops = []
        while self.peek()[0] == "op":
            ops.append(self.take()[1])
            chain.append(self.operand())
        attrs = self.attributes()
        direction = attrs.get("dir", "forward" if self.directed else "none")
        for a_group, op, b_group in zip(chain[:-1], ops, chain[1:]):
            arrow = self._arrow(op, direction)
            for a in a_group:
                for b in b_group:
                    self.out.add_edge(a, arrow, b, f"the DOT text (line {line})")

    @staticmethod
    def _arrow(op: str, direction: str) -> str:
        if op == "<->" or direction == "both":
            return "<->"
        if op == "--" or direction == "none":
            return "--"
        return "<-" if direction == "back" else "->"

    def attributes(self) -> dict[str, str]:
        attrs: dict[str, str] = {}
        while self.accept("["):
            while not self.accept("]"):
                kind, key, _line = self.take()
                if kind == "eof":
                    raise SpecificationError("DOT: an attribute list '[' is never closed with ']'.")
                if kind in ("punct",) and key in (",", ";"):
                    continue
                value = "true"
                if self.accept("="):
                    value = self.take()[1]
                attrs[key.lower()] = value.lower() if key.lower() in ("dir", "style", *_LATENT_WORDS) else value
        return attrs


def parse_dot(text: str) -> ParsedGraph:
    """Read DOT (``digraph {...}``) or dagitty (``dag {...}``) text.

    Edges ``a -> b`` (chains and ``{a b}`` groups allowed); ``a -> b [dir=both]`` or dagitty's ``a <-> b``
    is an unobserved common cause; a node with attribute ``latent`` (or ``unobserved``, or ``style=dashed``)
    is declared unobserved. Other attributes are read and ignored. Undirected edges are refused.
    """
    return _DotParser(text).parse()
