//! Writes an ONNX model file (protobuf wire format, by hand: the handful of messages a graph of
//! standard operators needs), so fine-tuned weights are served by ONNX Runtime without Python.
//! Field numbers follow onnx.proto (IR version 8, opset 17).

/// Tensor element types used here (onnx.proto `TensorProto.DataType`).
#[derive(Debug, Clone, Copy)]
pub enum Elem {
    /// 32-bit float.
    F32 = 1,
    /// 64-bit signed integer.
    I64 = 7,
}

#[derive(Debug, Default)]
struct Buf(Vec<u8>);

impl Buf {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }
    fn key(&mut self, field: u32, wire: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire));
    }
    fn int(&mut self, field: u32, v: i64) {
        self.key(field, 0);
        self.varint(v as u64);
    }
    fn bytes(&mut self, field: u32, b: &[u8]) {
        self.key(field, 2);
        self.varint(b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn string(&mut self, field: u32, s: &str) {
        self.bytes(field, s.as_bytes());
    }
    fn float(&mut self, field: u32, f: f32) {
        self.key(field, 5);
        self.0.extend_from_slice(&f.to_le_bytes());
    }
}

/// An attribute value of a node.
#[derive(Debug, Clone)]
pub enum Attr {
    /// A float.
    Float(f32),
    /// An integer.
    Int(i64),
    /// A list of integers.
    Ints(Vec<i64>),
}

/// A graph under construction: nodes, initialisers, inputs and outputs.
#[derive(Debug, Default)]
pub struct Graph {
    nodes: Vec<u8>,
    inits: Vec<u8>,
    inputs: Vec<u8>,
    outputs: Vec<u8>,
    counter: usize,
}

fn value_info(name: &str, elem: Elem, dims: &[&str]) -> Vec<u8> {
    let mut shape = Buf::default();
    for d in dims {
        let mut dim = Buf::default();
        match d.parse::<i64>() {
            Ok(v) => dim.int(1, v),
            Err(_) => dim.string(2, d),
        }
        shape.bytes(1, &dim.0);
    }
    let mut tensor = Buf::default();
    tensor.int(1, elem as i64);
    tensor.bytes(2, &shape.0);
    let mut ty = Buf::default();
    ty.bytes(1, &tensor.0);
    let mut vi = Buf::default();
    vi.string(1, name);
    vi.bytes(2, &ty.0);
    vi.0
}

impl Graph {
    /// Declares a graph input; dims are numbers or symbolic names.
    pub fn input(&mut self, name: &str, elem: Elem, dims: &[&str]) {
        let v = value_info(name, elem, dims);
        let mut b = Buf(std::mem::take(&mut self.inputs));
        b.bytes(11, &v);
        self.inputs = b.0;
    }

    /// Declares a graph output.
    pub fn output(&mut self, name: &str, elem: Elem, dims: &[&str]) {
        let v = value_info(name, elem, dims);
        let mut b = Buf(std::mem::take(&mut self.outputs));
        b.bytes(12, &v);
        self.outputs = b.0;
    }

    /// Adds a float initialiser; returns its name.
    pub fn f32s(&mut self, name: &str, dims: &[usize], data: &[f32]) -> String {
        let raw: Vec<u8> = data.iter().flat_map(|f| f.to_le_bytes()).collect();
        self.init(name, Elem::F32, dims, &raw)
    }

    /// Adds an int64 initialiser; returns its name.
    pub fn i64s(&mut self, name: &str, data: &[i64]) -> String {
        let raw: Vec<u8> = data.iter().flat_map(|f| f.to_le_bytes()).collect();
        self.init(name, Elem::I64, &[data.len()], &raw)
    }

    fn init(&mut self, name: &str, elem: Elem, dims: &[usize], raw: &[u8]) -> String {
        let mut t = Buf::default();
        for &d in dims {
            t.int(1, d as i64);
        }
        t.int(2, elem as i64);
        t.string(8, name);
        t.bytes(9, raw);
        let mut b = Buf(std::mem::take(&mut self.inits));
        b.bytes(5, &t.0);
        self.inits = b.0;
        name.to_string()
    }

    /// Adds a node with one output named after `hint`; returns the output's name.
    pub fn op(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)], hint: &str) -> String {
        self.counter += 1;
        let out = format!("{hint}_{}", self.counter);
        self.node(op, inputs, attrs, &out);
        out
    }

    /// Adds a node writing the output `out`.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)], out: &str) {
        let mut n = Buf::default();
        for i in inputs {
            n.string(1, i);
        }
        n.string(2, out);
        n.string(3, out);
        n.string(4, op);
        for (name, a) in attrs {
            let mut ab = Buf::default();
            ab.string(1, name);
            match a {
                Attr::Float(f) => {
                    ab.float(2, *f);
                    ab.int(20, 1);
                }
                Attr::Int(i) => {
                    ab.int(3, *i);
                    ab.int(20, 2);
                }
                Attr::Ints(v) => {
                    for i in v {
                        ab.int(8, *i);
                    }
                    ab.int(20, 7);
                }
            }
            n.bytes(5, &ab.0);
        }
        let mut b = Buf(std::mem::take(&mut self.nodes));
        b.bytes(1, &n.0);
        self.nodes = b.0;
    }

    /// The serialised model.
    pub fn model(self, name: &str, producer: &str, version: &str) -> Vec<u8> {
        let mut g = Buf::default();
        g.0.extend_from_slice(&self.nodes);
        g.string(2, name);
        g.0.extend_from_slice(&self.inits);
        g.0.extend_from_slice(&self.inputs);
        g.0.extend_from_slice(&self.outputs);
        let mut opset = Buf::default();
        opset.string(1, "");
        opset.int(2, 17);
        let mut m = Buf::default();
        m.int(1, 8);
        m.string(2, producer);
        m.string(3, version);
        m.bytes(7, &g.0);
        m.bytes(8, &opset.0);
        m.0
    }
}
