//! The pushdown recogniser behind both constraints: a grammar of typed value
//! nodes (JSON-Schema-like) read byte by byte in JSON or Python literal syntax,
//! plus the BFCL call list `[f(a=1), g(b='x')]` as a root node.

use std::sync::Arc;

use super::Constraint;

pub type NodeId = usize;

/// Every grammar holds `Node::Any` here (the values of open objects and untyped arrays).
pub const ANY: NodeId = 0;

/// Longest number accepted, in bytes: keeps a model from emitting digits forever.
const MAX_NUMBER_LEN: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Json,
    Python,
}

/// One function of a call list: its name and keyword parameters.
#[derive(Debug, Clone)]
pub struct CallSig {
    pub name: String,
    pub params: Vec<(String, NodeId)>,
    pub required: Vec<bool>,
}

#[derive(Debug, Clone)]
pub enum Node {
    /// Any value of the dialect.
    Any,
    /// Known properties (none: any string keys with any values); with
    /// `additional`, other string keys may follow too, with any values.
    Object {
        props: Vec<(String, NodeId)>,
        required: Vec<bool>,
        additional: bool,
    },
    Array {
        items: NodeId,
        min: usize,
        max: Option<usize>,
    },
    Str,
    Number {
        integer: bool,
    },
    /// Exactly one of these byte strings (enums, constants, booleans, null).
    Literals(Arc<Vec<Vec<u8>>>),
    Either(Vec<NodeId>),
    /// A list of calls to these functions (the root of a call-list grammar).
    Calls(Arc<Vec<CallSig>>),
}

#[derive(Debug)]
pub struct Grammar {
    pub nodes: Vec<Node>,
    pub root: NodeId,
    pub dialect: Dialect,
}

impl Grammar {
    /// An empty grammar (just the `Any` node); set `root` after adding nodes.
    pub fn new(dialect: Dialect) -> Self {
        Self {
            nodes: vec![Node::Any],
            root: ANY,
            dialect,
        }
    }

    pub fn add(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn literal(&self, json: &str, python: &str) -> Vec<u8> {
        match self.dialect {
            Dialect::Json => json.as_bytes().to_vec(),
            Dialect::Python => python.as_bytes().to_vec(),
        }
    }

    /// The bytes a value of `node` can start with.
    pub fn first_bytes(&self, node: NodeId) -> [bool; 256] {
        let mut set = [false; 256];
        let mut mark = |bytes: &[u8]| bytes.iter().for_each(|&b| set[b as usize] = true);
        let quotes: &[u8] = match self.dialect {
            Dialect::Json => b"\"",
            Dialect::Python => b"\"'",
        };
        match &self.nodes[node] {
            Node::Any => {
                mark(b"{[-0123456789");
                mark(quotes);
                for literal in self.booleans().iter().chain([&self.null()]) {
                    mark(&literal[..1]);
                }
            }
            Node::Object { .. } => mark(b"{"),
            Node::Array { .. } | Node::Calls(_) => mark(b"["),
            Node::Str => mark(quotes),
            Node::Number { .. } => mark(b"-0123456789"),
            Node::Literals(options) => options
                .iter()
                .filter_map(|o| o.first())
                .for_each(|b| mark(&[*b])),
            Node::Either(alternatives) => {
                for &alt in alternatives {
                    let inner = self.first_bytes(alt);
                    (0..256).filter(|&b| inner[b]).for_each(|b| set[b] = true);
                }
            }
        }
        set
    }

    /// The dialect's spelling of `true`, `false` and `null`.
    pub fn booleans(&self) -> Vec<Vec<u8>> {
        vec![self.literal("true", "True"), self.literal("false", "False")]
    }

    pub fn null(&self) -> Vec<u8> {
        self.literal("null", "None")
    }

    /// A string literal spelled every way the dialect allows.
    pub fn quoted(&self, text: &str) -> Vec<Vec<u8>> {
        let json = serde_json::to_string(text).unwrap_or_default().into_bytes();
        match self.dialect {
            Dialect::Json => vec![json],
            Dialect::Python => {
                let single = format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"));
                vec![json, single.into_bytes()]
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Num {
    Start,
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    E,
    ESign,
    Exp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seq {
    /// Just opened: a first item or the closing bracket.
    Open,
    /// After a comma.
    Next,
    /// Inside a key / name literal.
    InKey,
    /// After a key, before `:` (JSON/Python dicts).
    AfterKey,
    InValue,
    AfterValue,
}

#[derive(Debug, Clone)]
enum Frame {
    Value(NodeId),
    Lit {
        options: Arc<Vec<Vec<u8>>>,
        alive: Vec<u32>,
        pos: usize,
        /// What a matched option stands for (a property index); the option index if absent.
        owners: Option<Arc<Vec<usize>>>,
        /// An object key that may also be a string other than the options.
        free_key: bool,
    },
    Str {
        quote: u8,
        escape: bool,
        /// UTF-8 continuation bytes still due.
        pending: u8,
    },
    Number {
        integer: bool,
        state: Num,
        len: usize,
    },
    Object {
        node: NodeId,
        seen: Vec<bool>,
        key: Option<usize>,
        state: Seq,
    },
    Array {
        node: NodeId,
        count: usize,
        state: Seq,
    },
    Calls {
        state: Seq,
    },
    Call {
        sig: usize,
        seen: Vec<bool>,
        key: Option<usize>,
        state: Seq,
    },
}

enum Step {
    Consumed,
    Push(Frame),
    /// Push and hand the same byte to the new frame.
    PushRetry(Frame),
    /// Swap the top frame for another and hand it the same byte.
    ReplaceRetry(Frame),
    /// Swap the top frame for another; the byte is consumed.
    Replace(Frame),
    /// The frame is complete, this byte included; carries a matched literal index.
    Done(Option<usize>),
    /// The frame ended before this byte, which goes to the parent.
    DoneRetry(Option<usize>),
    Reject,
}

/// The recogniser state: a shared grammar and a stack of frames.
#[derive(Debug, Clone)]
pub struct Machine {
    grammar: Arc<Grammar>,
    stack: Vec<Frame>,
    /// Whitespace bytes in a row: one space is allowed, after `,` or `:` only
    /// (the canonical spacing of JSON and Python reprs).
    spaces: u8,
    /// The last byte accepted.
    previous: u8,
}

fn is_space(b: u8) -> bool {
    b == b' '
}

impl Machine {
    pub fn new(grammar: Grammar) -> Self {
        let root = grammar.root;
        Self {
            grammar: Arc::new(grammar),
            stack: vec![Frame::Value(root)],
            spaces: 0,
            previous: 0,
        }
    }

    fn string(quote: u8) -> Frame {
        Frame::Str {
            quote,
            escape: false,
            pending: 0,
        }
    }

    fn lit(options: Arc<Vec<Vec<u8>>>, alive: Vec<u32>) -> Frame {
        Frame::Lit {
            options,
            alive,
            pos: 0,
            owners: None,
            free_key: false,
        }
    }

    fn all(options: &Arc<Vec<Vec<u8>>>) -> Vec<u32> {
        (0..options.len() as u32).collect()
    }

    /// The frame that starts a value of `node` on byte `b`, if any.
    fn start_value(&self, node: NodeId, b: u8) -> Option<Frame> {
        let g = &self.grammar;
        let python = g.dialect == Dialect::Python;
        let string_quote = b == b'"' || (python && b == b'\'');
        match &g.nodes[node] {
            Node::Any => match b {
                b'{' => Some(Frame::Object {
                    node,
                    seen: Vec::new(),
                    key: None,
                    state: Seq::Open,
                }),
                b'[' => Some(Frame::Array {
                    node,
                    count: 0,
                    state: Seq::Open,
                }),
                _ if string_quote => Some(Self::string(b)),
                b'-' | b'0'..=b'9' => Some(Frame::Number {
                    integer: false,
                    state: Num::Start,
                    len: 0,
                }),
                _ => {
                    let mut options = g.booleans();
                    options.push(g.null());
                    let options = Arc::new(options);
                    let alive = Self::all(&options);
                    Some(Self::lit(options, alive))
                }
            },
            Node::Object { required, .. } if b == b'{' => Some(Frame::Object {
                node,
                seen: vec![false; required.len()],
                key: None,
                state: Seq::Open,
            }),
            Node::Array { .. } if b == b'[' => Some(Frame::Array {
                node,
                count: 0,
                state: Seq::Open,
            }),
            Node::Str if string_quote => Some(Self::string(b)),
            Node::Number { integer } if b == b'-' || b.is_ascii_digit() => Some(Frame::Number {
                integer: *integer,
                state: Num::Start,
                len: 0,
            }),
            Node::Literals(options) => Some(Self::lit(options.clone(), Self::all(options))),
            Node::Either(alternatives) => alternatives.iter().find_map(|&alt| {
                let mut probe = self.clone();
                probe.stack = vec![Frame::Value(alt)];
                probe.spaces = 0;
                if probe.advance_inner(b) {
                    self.start_value(alt, b)
                } else {
                    None
                }
            }),
            Node::Calls(_) if b == b'[' => Some(Frame::Calls { state: Seq::Open }),
            _ => None,
        }
    }

    fn step(&self, frame: &mut Frame, b: u8) -> Step {
        let g = &self.grammar;
        match frame {
            Frame::Value(node) => match self.start_value(*node, b) {
                Some(f @ (Frame::Lit { .. } | Frame::Number { .. })) => Step::ReplaceRetry(f),
                Some(f) => {
                    *frame = f;
                    Step::Consumed
                }
                None => Step::Reject,
            },
            Frame::Lit {
                options,
                alive,
                pos,
                owners,
                free_key,
            } => {
                let owner = |i: u32| Some(owners.as_ref().map_or(i as usize, |o| o[i as usize]));
                let next: Vec<u32> = alive
                    .iter()
                    .copied()
                    .filter(|&i| options[i as usize].get(*pos) == Some(&b))
                    .collect();
                if next.is_empty() {
                    return match alive.iter().find(|&&i| options[i as usize].len() == *pos) {
                        Some(&i) => Step::DoneRetry(owner(i)),
                        // An undeclared key: what was read is a string prefix (the quote
                        // is the first byte every option shares), so read on as a string.
                        None if *free_key && *pos > 0 => {
                            Step::ReplaceRetry(Self::string(options[alive[0] as usize][0]))
                        }
                        // Every declared key is taken: this quote opens another one.
                        None if *free_key => Step::Replace(Self::string(b)),
                        None => Step::Reject,
                    };
                }
                *pos += 1;
                *alive = next;
                match alive.as_slice() {
                    [only] if options[*only as usize].len() == *pos => Step::Done(owner(*only)),
                    _ => Step::Consumed,
                }
            }
            Frame::Str {
                quote,
                escape,
                pending,
            } => {
                if *pending > 0 {
                    // Inside a multi-byte character: only continuation bytes.
                    return if (0x80..=0xBF).contains(&b) {
                        *pending -= 1;
                        Step::Consumed
                    } else {
                        Step::Reject
                    };
                }
                if *escape {
                    let python = g.dialect == Dialect::Python;
                    let ok = b"\"\\/bfnrtu".contains(&b) || (python && b == b'\'');
                    *escape = false;
                    return if ok { Step::Consumed } else { Step::Reject };
                }
                match b {
                    _ if b == *quote => Step::Done(None),
                    b'\\' => {
                        *escape = true;
                        Step::Consumed
                    }
                    0..=0x1F | 0x80..=0xC1 | 0xF5..=0xFF => Step::Reject,
                    0xC2..=0xDF => {
                        *pending = 1;
                        Step::Consumed
                    }
                    0xE0..=0xEF => {
                        *pending = 2;
                        Step::Consumed
                    }
                    0xF0..=0xF4 => {
                        *pending = 3;
                        Step::Consumed
                    }
                    _ => Step::Consumed,
                }
            }
            Frame::Number {
                integer,
                state,
                len,
            } => {
                use Num::*;
                let digit = b.is_ascii_digit();
                let next = match (*state, b) {
                    (Start, b'-') => Some(Minus),
                    (Start | Minus, b'0') => Some(Zero),
                    (Start | Minus, _) if digit => Some(Int),
                    (Int, _) if digit => Some(Int),
                    (Zero | Int, b'.') if !*integer => Some(Dot),
                    (Dot | Frac, _) if digit => Some(Frac),
                    (Zero | Int | Frac, b'e' | b'E') if !*integer => Some(E),
                    (E, b'+' | b'-') => Some(ESign),
                    (E | ESign | Exp, _) if digit => Some(Exp),
                    _ => None,
                };
                match next {
                    Some(s) if *len < MAX_NUMBER_LEN => {
                        *state = s;
                        *len += 1;
                        Step::Consumed
                    }
                    Some(_) => Step::Reject,
                    None if matches!(state, Zero | Int | Frac | Exp) => Step::DoneRetry(None),
                    None => Step::Reject,
                }
            }
            Frame::Object {
                node,
                seen,
                key,
                state,
            } => self.step_object(*node, seen, key, state, b),
            Frame::Array { node, count, state } => {
                let (items, min, max) = match &g.nodes[*node] {
                    Node::Array { items, min, max } => (*items, *min, *max),
                    _ => (ANY, 0, None),
                };
                match (*state, b) {
                    (Seq::Open, b']') if min == 0 => Step::Done(None),
                    (Seq::AfterValue, b']') if *count >= min => Step::Done(None),
                    (Seq::AfterValue, b',') if max.is_none_or(|m| *count < m) => {
                        *state = Seq::Next;
                        Step::Consumed
                    }
                    (Seq::Open | Seq::Next, _) if !is_space(b) => {
                        *state = Seq::InValue;
                        Step::PushRetry(Frame::Value(items))
                    }
                    _ => Step::Reject,
                }
            }
            Frame::Calls { state } => match (*state, b) {
                (Seq::Open, b']') | (Seq::AfterValue, b']') => Step::Done(None),
                (Seq::AfterValue, b',') => {
                    *state = Seq::Next;
                    Step::Consumed
                }
                (Seq::Open | Seq::Next, _) if !is_space(b) => {
                    let Node::Calls(sigs) = &g.nodes[g.root] else {
                        return Step::Reject;
                    };
                    let names: Vec<Vec<u8>> = sigs
                        .iter()
                        .map(|s| format!("{}(", s.name).into_bytes())
                        .collect();
                    *state = Seq::InKey;
                    let options = Arc::new(names);
                    Step::PushRetry(Self::lit(options.clone(), Self::all(&options)))
                }
                _ => Step::Reject,
            },
            Frame::Call {
                sig,
                seen,
                key,
                state,
            } => {
                let Node::Calls(sigs) = &g.nodes[g.root] else {
                    return Step::Reject;
                };
                let sig = &sigs[*sig];
                let satisfied = sig.required.iter().zip(seen.iter()).all(|(r, s)| !r || *s);
                match (*state, b) {
                    (Seq::Open | Seq::AfterValue, b')') if satisfied => Step::Done(None),
                    (Seq::AfterValue, b',') if seen.iter().any(|s| !s) => {
                        *state = Seq::Next;
                        Step::Consumed
                    }
                    (Seq::Open | Seq::Next, _) if !is_space(b) => {
                        let (names, alive): (Vec<Vec<u8>>, Vec<u32>) = sig
                            .params
                            .iter()
                            .enumerate()
                            .map(|(i, (name, _))| (format!("{name}=").into_bytes(), i as u32))
                            .filter(|(_, i)| !seen[*i as usize])
                            .unzip();
                        *key = None;
                        *state = Seq::InKey;
                        let mut all = vec![Vec::new(); sig.params.len()];
                        for (name, i) in names.into_iter().zip(&alive) {
                            all[*i as usize] = name;
                        }
                        Step::PushRetry(Self::lit(Arc::new(all), alive))
                    }
                    _ => Step::Reject,
                }
            }
        }
    }

    fn step_object(
        &self,
        node: NodeId,
        seen: &mut [bool],
        key: &mut Option<usize>,
        state: &mut Seq,
        b: u8,
    ) -> Step {
        let g = &self.grammar;
        let (props, required, additional): (&[(String, NodeId)], &[bool], bool) =
            match &g.nodes[node] {
                Node::Object {
                    props,
                    required,
                    additional,
                } => (props, required, *additional),
                _ => (&[], &[], true),
            };
        let open = props.is_empty();
        let satisfied = required.iter().zip(seen.iter()).all(|(r, s)| !r || *s);
        let python = g.dialect == Dialect::Python;
        let quote = b == b'"' || (python && b == b'\'');
        match (*state, b) {
            (Seq::Open | Seq::AfterValue, b'}') if satisfied => Step::Done(None),
            (Seq::AfterValue, b',') if open || additional || seen.iter().any(|s| !s) => {
                *state = Seq::Next;
                Step::Consumed
            }
            (Seq::Open | Seq::Next, _) if quote && open => {
                *state = Seq::InKey;
                Step::Push(Self::string(b))
            }
            (Seq::Open | Seq::Next, _) if quote => {
                let mut options = Vec::new();
                let mut owners = Vec::new();
                for (i, (name, _)) in props.iter().enumerate().filter(|(i, _)| !seen[*i]) {
                    for spelling in g.quoted(name) {
                        options.push(spelling);
                        owners.push(i);
                    }
                }
                *state = Seq::InKey;
                *key = None;
                let options = Arc::new(options);
                Step::PushRetry(Frame::Lit {
                    alive: Self::all(&options),
                    options,
                    pos: 0,
                    owners: Some(Arc::new(owners)),
                    free_key: additional,
                })
            }
            (Seq::AfterKey, b':') => {
                *state = Seq::InValue;
                let value = match key {
                    Some(k) if !open => props[*k].1,
                    _ => ANY,
                };
                Step::Push(Frame::Value(value))
            }
            _ => Step::Reject,
        }
    }
}

impl Machine {
    /// A finished child hands its result (a matched key or name) to its parent.
    fn child_done(&mut self, matched: Option<usize>) -> Step {
        let Some(parent) = self.stack.last_mut() else {
            return Step::Consumed;
        };
        match parent {
            Frame::Object {
                seen, key, state, ..
            } => {
                if *state == Seq::InKey {
                    *key = matched;
                    if let Some(k) = matched {
                        seen[k] = true;
                    }
                    *state = Seq::AfterKey;
                } else {
                    *state = Seq::AfterValue;
                }
                Step::Consumed
            }
            Frame::Array { count, state, .. } => {
                *count += 1;
                *state = Seq::AfterValue;
                Step::Consumed
            }
            Frame::Calls { state } => {
                if *state == Seq::InKey {
                    let sig = matched.unwrap_or(0);
                    let Node::Calls(sigs) = &self.grammar.nodes[self.grammar.root] else {
                        return Step::Reject;
                    };
                    let params = sigs[sig].params.len();
                    *state = Seq::InValue;
                    Step::Push(Frame::Call {
                        sig,
                        seen: vec![false; params],
                        key: None,
                        state: Seq::Open,
                    })
                } else {
                    *state = Seq::AfterValue;
                    Step::Consumed
                }
            }
            Frame::Call {
                sig,
                seen,
                key,
                state,
            } => {
                if *state == Seq::InKey {
                    let Node::Calls(sigs) = &self.grammar.nodes[self.grammar.root] else {
                        return Step::Reject;
                    };
                    let k = matched.unwrap_or(0);
                    seen[k] = true;
                    *key = Some(k);
                    *state = Seq::InValue;
                    Step::Push(Frame::Value(sigs[*sig].params[k].1))
                } else {
                    *state = Seq::AfterValue;
                    Step::Consumed
                }
            }
            _ => Step::Reject,
        }
    }

    fn advance_inner(&mut self, b: u8) -> bool {
        let accepted = self.advance_byte(b);
        if accepted {
            self.previous = b;
        }
        accepted
    }

    fn advance_byte(&mut self, b: u8) -> bool {
        if is_space(b) {
            let inside = matches!(
                self.stack.last(),
                Some(Frame::Str { .. } | Frame::Lit { .. } | Frame::Number { .. })
            );
            if !inside {
                let after_separator = self.previous == b',' || self.previous == b':';
                if self.spaces > 0 || self.stack.is_empty() || !after_separator {
                    return false;
                }
                self.spaces += 1;
                return true;
            }
        } else {
            self.spaces = 0;
        }
        loop {
            let Some(mut top) = self.stack.pop() else {
                return false;
            };
            match self.step(&mut top, b) {
                Step::Consumed => {
                    self.stack.push(top);
                    return true;
                }
                Step::Push(frame) => {
                    self.stack.push(top);
                    self.stack.push(frame);
                    return true;
                }
                Step::PushRetry(frame) => {
                    self.stack.push(top);
                    self.stack.push(frame);
                }
                Step::ReplaceRetry(frame) => self.stack.push(frame),
                Step::Replace(frame) => {
                    self.stack.push(frame);
                    return true;
                }
                Step::Done(matched) => {
                    return match self.child_done(matched) {
                        Step::Push(frame) => {
                            self.stack.push(frame);
                            true
                        }
                        Step::Reject => false,
                        _ => true,
                    };
                }
                Step::DoneRetry(matched) => match self.child_done(matched) {
                    Step::Push(frame) => self.stack.push(frame),
                    Step::Reject => return false,
                    _ => {
                        if self.stack.is_empty() {
                            return false;
                        }
                        if is_space(b) {
                            return self.advance_byte(b);
                        }
                    }
                },
                Step::Reject => {
                    self.stack.push(top);
                    return false;
                }
            }
        }
    }

    /// Whether the top-level value may end here.
    fn can_end(&self) -> bool {
        match self.stack.as_slice() {
            [] => true,
            [Frame::Number { state, .. }] => {
                matches!(state, Num::Zero | Num::Int | Num::Frac | Num::Exp)
            }
            [Frame::Lit {
                options,
                alive,
                pos,
                ..
            }] => alive.iter().any(|&i| options[i as usize].len() == *pos),
            _ => false,
        }
    }
}

impl Constraint for Machine {
    fn advance(&mut self, byte: u8) -> bool {
        self.advance_inner(byte)
    }

    fn is_complete(&self) -> bool {
        self.can_end()
    }

    fn is_closed(&self) -> bool {
        self.stack.is_empty()
    }

    fn boxed_clone(&self) -> Box<dyn Constraint> {
        Box::new(self.clone())
    }
}
