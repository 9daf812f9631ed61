// Package types holds the generic WIT shapes that generated Go bindings use: unit, tuples,
// option and result. Written for capsule against the API the generator emits; it holds no
// component-model logic, only values.
package types

// Unit is WIT's empty value (`result<_, E>`'s ok side).
type Unit struct{}

// Tuple2 is `tuple<T0, T1>`.
type Tuple2[T0 any, T1 any] struct {
	F0 T0
	F1 T1
}

// Option tags.
const (
	OptionNone uint8 = 0
	OptionSome uint8 = 1
)

// Option is `option<T>`.
type Option[T any] struct {
	tag   uint8
	value T
}

// None is an empty option.
func None[T any]() Option[T] { return Option[T]{tag: OptionNone} }

// Some is an option holding value.
func Some[T any](value T) Option[T] { return Option[T]{tag: OptionSome, value: value} }

// Tag says which case the option holds.
func (o Option[T]) Tag() uint8 { return o.tag }

// IsSome is true when the option holds a value.
func (o Option[T]) IsSome() bool { return o.tag == OptionSome }

// IsNone is true when the option is empty.
func (o Option[T]) IsNone() bool { return o.tag == OptionNone }

// Some returns the value; it panics on an empty option, as reading a missing value is a bug.
func (o Option[T]) Some() T {
	if o.tag != OptionSome {
		panic("wit option: Some() on none")
	}
	return o.value
}

// Result tags.
const (
	ResultOk  uint8 = 0
	ResultErr uint8 = 1
)

// Result is `result<T, E>`.
type Result[T any, E any] struct {
	tag uint8
	ok  T
	err E
}

// Ok is a successful result.
func Ok[T any, E any](value T) Result[T, E] { return Result[T, E]{tag: ResultOk, ok: value} }

// Err is a failed result.
func Err[T any, E any](err E) Result[T, E] { return Result[T, E]{tag: ResultErr, err: err} }

// Tag says which case the result holds.
func (r Result[T, E]) Tag() uint8 { return r.tag }

// IsOk is true for a successful result.
func (r Result[T, E]) IsOk() bool { return r.tag == ResultOk }

// IsErr is true for a failed result.
func (r Result[T, E]) IsErr() bool { return r.tag == ResultErr }

// Ok returns the value of a successful result; it panics on an error.
func (r Result[T, E]) Ok() T {
	if r.tag != ResultOk {
		panic("wit result: Ok() on err")
	}
	return r.ok
}

// Err returns the error of a failed result; it panics on success.
func (r Result[T, E]) Err() E {
	if r.tag != ResultErr {
		panic("wit result: Err() on ok")
	}
	return r.err
}
