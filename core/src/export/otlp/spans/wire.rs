//! Protobuf wire format for the span encoder: field keys, lengths and scalars (proto3 rules:
//! a default value is omitted), and the OTLP common messages `AnyValue`, `ArrayValue` and
//! `KeyValue`. Each message has a `*_len` function giving its body length and a `put_*`
//! function writing it, so a parent can write its length prefix before its body.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::{Array, KeyValue, Value};
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint, key_len};

pub(super) fn len_field(tag: u32, len: usize) -> usize {
    key_len(tag) + encoded_len_varint(len as u64) + len
}

pub(super) fn put_len(tag: u32, len: usize, out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(len as u64, out);
}

/// A proto3 string field (omitted when empty).
pub(super) fn str_field_len(tag: u32, s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        len_field(tag, s.len())
    }
}

pub(super) fn put_str(tag: u32, s: &str, out: &mut Vec<u8>) {
    if !s.is_empty() {
        put_len(tag, s.len(), out);
        out.extend_from_slice(s.as_bytes());
    }
}

pub(super) fn put_bytes(tag: u32, b: &[u8], out: &mut Vec<u8>) {
    put_len(tag, b.len(), out);
    out.extend_from_slice(b);
}

/// A proto3 varint field (omitted when zero).
pub(super) fn varint_field_len(tag: u32, v: u64) -> usize {
    if v == 0 {
        0
    } else {
        key_len(tag) + encoded_len_varint(v)
    }
}

pub(super) fn put_varint(tag: u32, v: u64, out: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::Varint, out);
        encode_varint(v, out);
    }
}

pub(super) fn fixed64_field_len(tag: u32, v: u64) -> usize {
    if v == 0 { 0 } else { key_len(tag) + 8 }
}

pub(super) fn put_fixed64(tag: u32, v: u64, out: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::SixtyFourBit, out);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

pub(super) fn fixed32_field_len(tag: u32, v: u32) -> usize {
    if v == 0 { 0 } else { key_len(tag) + 4 }
}

pub(super) fn put_fixed32(tag: u32, v: u32, out: &mut Vec<u8>) {
    if v != 0 {
        encode_key(tag, WireType::ThirtyTwoBit, out);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

pub(super) fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos()
        .try_into()
        .unwrap_or(u64::MAX)
}

// --- values ------------------------------------------------------------------------------------

/// `AnyValue` body length. A set `oneof` member is written even when it holds its default.
fn any_value_len(v: &Value) -> usize {
    match v {
        Value::Bool(_) => key_len(2) + 1,
        Value::I64(i) => key_len(3) + encoded_len_varint(i64_bits(*i)),
        Value::F64(_) => key_len(4) + 8,
        Value::String(s) => len_field(1, s.as_str().len()),
        Value::Array(a) => len_field(5, array_len(a)),
        other => len_field(1, other.as_str().len()),
    }
}

fn put_any_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Bool(b) => {
            encode_key(2, WireType::Varint, out);
            encode_varint(u64::from(*b), out);
        }
        Value::I64(i) => {
            encode_key(3, WireType::Varint, out);
            encode_varint(i64_bits(*i), out);
        }
        Value::F64(f) => {
            encode_key(4, WireType::SixtyFourBit, out);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::String(s) => put_bytes(1, s.as_str().as_bytes(), out),
        Value::Array(a) => {
            put_len(5, array_len(a), out);
            put_array(a, out);
        }
        other => put_bytes(1, other.as_str().as_bytes(), out),
    }
}

/// An `int64` is written as its two's-complement bits.
fn i64_bits(i: i64) -> u64 {
    u64::from_ne_bytes(i.to_ne_bytes())
}

/// `ArrayValue { values = 1 }` body length.
fn array_len(a: &Array) -> usize {
    match a {
        Array::Bool(v) => v.len() * len_field(1, key_len(2) + 1),
        Array::I64(v) => v
            .iter()
            .map(|i| len_field(1, key_len(3) + encoded_len_varint(i64_bits(*i))))
            .sum(),
        Array::F64(v) => v.len() * len_field(1, key_len(4) + 8),
        Array::String(v) => v
            .iter()
            .map(|s| len_field(1, len_field(1, s.as_str().len())))
            .sum(),
        other => {
            let text = other.to_string();
            len_field(1, len_field(1, text.len()))
        }
    }
}

fn put_array(a: &Array, out: &mut Vec<u8>) {
    match a {
        Array::Bool(v) => {
            for b in v {
                put_len(1, key_len(2) + 1, out);
                put_any_value(&Value::Bool(*b), out);
            }
        }
        Array::I64(v) => {
            for i in v {
                put_len(1, key_len(3) + encoded_len_varint(i64_bits(*i)), out);
                put_any_value(&Value::I64(*i), out);
            }
        }
        Array::F64(v) => {
            for f in v {
                put_len(1, key_len(4) + 8, out);
                put_any_value(&Value::F64(*f), out);
            }
        }
        Array::String(v) => {
            for s in v {
                put_len(1, len_field(1, s.as_str().len()), out);
                put_bytes(1, s.as_str().as_bytes(), out);
            }
        }
        other => {
            let text = other.to_string();
            put_len(1, len_field(1, text.len()), out);
            put_bytes(1, text.as_bytes(), out);
        }
    }
}

/// `KeyValue { key = 1, value = 2 }` body length.
pub(super) fn kv_len(kv: &KeyValue) -> usize {
    str_field_len(1, kv.key.as_str()) + len_field(2, any_value_len(&kv.value))
}

pub(super) fn put_kv(tag: u32, kv: &KeyValue, out: &mut Vec<u8>) {
    put_len(tag, kv_len(kv), out);
    put_str(1, kv.key.as_str(), out);
    put_len(2, any_value_len(&kv.value), out);
    put_any_value(&kv.value, out);
}

pub(super) fn kvs_len(tag: u32, kvs: &[KeyValue]) -> usize {
    kvs.iter().map(|kv| len_field(tag, kv_len(kv))).sum()
}
