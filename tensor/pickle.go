package tensor

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// A restricted unpickler: the part of Python's pickle machine that a
// PyTorch state dict needs (protocols 0 to 5), and nothing that can run
// code. Globals are looked up in an allow list (allowedGlobals) when the
// GLOBAL opcode is read, so a pickle that names os.system, builtins.eval or
// any other callable fails there, naming it, before anything is built; and
// the only "calls" are the few tensor-rebuilding functions, done here in
// Go. Every length and index is checked against the bytes that remain, so
// damaged input is an error, never a panic or an allocation the input does
// not pay for.

// Python values as the unpickler holds them: nil (None), bool, int64,
// float64, string, []byte, pyTuple, *pyList, *pyDict, pyGlobal,
// *pyStorage, *pyTensor.
type (
	pyTuple []any
	pyList  struct{ items []any }
	pyDict  struct {
		keys, vals []any
		index      map[any]int
	}
	pyGlobal struct{ module, name string }
	pyMark   struct{}
	// pyLong is an integer wider than 64 bits, its little-endian bytes.
	pyLong []byte
	// pyStorage is a storage named by a persistent id: its bytes are
	// found later by key (a zip entry, or a record of the legacy format).
	pyStorage struct {
		key   string
		dtype string // safetensors' name: F32, F16, ...
		numel int
		// view: in the legacy format, a storage may be a slice of
		// another: root's elements [offset, offset+numel).
		root   string
		offset int
	}
	pyTensor struct {
		storage      *pyStorage
		offset       int
		size, stride []int
	}
)

// storageDTypes maps torch's storage classes to safetensors' dtype names.
var storageDTypes = map[string]string{
	"FloatStorage": "F32", "DoubleStorage": "F64", "HalfStorage": "F16", "BFloat16Storage": "BF16",
	"LongStorage": "I64", "IntStorage": "I32", "ShortStorage": "I16", "CharStorage": "I8",
	"ByteStorage": "U8", "BoolStorage": "BOOL",
}

// allowedGlobals are the only names a checkpoint's pickle may mention.
var allowedGlobals = map[string]bool{
	"collections.OrderedDict":                    true,
	"torch._utils._rebuild_tensor":               true,
	"torch._utils._rebuild_tensor_v2":            true,
	"torch._utils._rebuild_parameter":            true,
	"torch._utils._rebuild_parameter_with_state": true,
	"torch._tensor._rebuild_from_type_v2":        true,
	"torch.Tensor":                               true,
	"torch.nn.parameter.Parameter":               true,
}

func init() {
	for s := range storageDTypes {
		allowedGlobals["torch."+s] = true
	}
}

// unpickler runs one pickle from data[pos:].
type unpickler struct {
	data  []byte
	pos   int
	stack []any
	marks []int
	memo  map[uint32]any
	// persistent turns a persistent id into a value (a storage).
	persistent func(id any) (any, error)
}

var errTruncated = errors.New("the pickle ends before its STOP opcode")

func (u *unpickler) read(n int) ([]byte, error) {
	if n < 0 || n > len(u.data)-u.pos {
		return nil, errTruncated
	}
	b := u.data[u.pos : u.pos+n]
	u.pos += n
	return b, nil
}

func (u *unpickler) readLine() (string, error) {
	i := bytes.IndexByte(u.data[u.pos:min(len(u.data), u.pos+1<<16)], '\n')
	if i < 0 {
		return "", errors.New("a text argument has no end of line (or is longer than 64 KiB)")
	}
	s := string(u.data[u.pos : u.pos+i])
	u.pos += i + 1
	return s, nil
}

func (u *unpickler) readUint(n int) (uint64, error) {
	b, err := u.read(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

func (u *unpickler) push(v any) { u.stack = append(u.stack, v) }

func (u *unpickler) pop() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1]) {
		return nil, errors.New("the pickle pops an empty stack")
	}
	v := u.stack[len(u.stack)-1]
	u.stack = u.stack[:len(u.stack)-1]
	return v, nil
}

func (u *unpickler) top() (any, error) {
	if len(u.stack) == 0 || (len(u.marks) > 0 && len(u.stack) == u.marks[len(u.marks)-1]) {
		return nil, errors.New("the pickle reads an empty stack")
	}
	return u.stack[len(u.stack)-1], nil
}

// pop2 pops the two values on top of the stack: below, then top.
func (u *unpickler) pop2() (below, top any, err error) {
	if top, err = u.pop(); err == nil {
		below, err = u.pop()
	}
	return below, top, err
}

// readIndexLine reads a memo index written as text (PUT, GET).
func (u *unpickler) readIndexLine() (uint32, error) {
	s, err := u.readLine()
	if err != nil {
		return 0, err
	}
	var i uint32
	if _, err := fmt.Sscanf(s, "%d", &i); err != nil {
		return 0, fmt.Errorf("memo index %q: %v", s, err)
	}
	return i, nil
}

// popMark returns the values pushed since the last MARK and removes them.
func (u *unpickler) popMark() ([]any, error) {
	if len(u.marks) == 0 {
		return nil, errors.New("the pickle closes a MARK it never opened")
	}
	m := u.marks[len(u.marks)-1]
	u.marks = u.marks[:len(u.marks)-1]
	items := append([]any(nil), u.stack[m:]...)
	u.stack = u.stack[:m]
	return items, nil
}

func (u *unpickler) memoGet(i uint32) (any, error) {
	v, ok := u.memo[i]
	if !ok {
		return nil, fmt.Errorf("the pickle reads memo entry %d, never stored", i)
	}
	return v, nil
}

func (u *unpickler) memoPut(i uint32) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	u.memo[i] = v
	return nil
}

// run executes opcodes until STOP and returns the value left.
func (u *unpickler) run() (any, error) {
	u.memo = map[uint32]any{}
	for {
		start := u.pos
		if u.pos >= len(u.data) {
			return nil, errTruncated
		}
		op := u.data[u.pos]
		u.pos++
		if op == '.' { // STOP
			v, err := u.pop()
			if err != nil {
				return nil, err
			}
			if len(u.stack) != 0 || len(u.marks) != 0 {
				return nil, fmt.Errorf("the pickle stops with %d values left on its stack", len(u.stack))
			}
			return v, nil
		}
		if err := u.step(op); err != nil {
			return nil, fmt.Errorf("pickle opcode 0x%02x at byte %d: %w", op, start, err)
		}
	}
}

func (u *unpickler) step(op byte) error {
	switch op {
	case 0x80: // PROTO
		v, err := u.readUint(1)
		if err == nil && v > 5 {
			err = fmt.Errorf("pickle protocol %d (at most 5 is known)", v)
		}
		return err
	case 0x95: // FRAME: a length that only helps buffering
		_, err := u.readUint(8)
		return err
	case '(': // MARK
		u.marks = append(u.marks, len(u.stack))
	case ')': // EMPTY_TUPLE
		u.push(pyTuple{})
	case ']': // EMPTY_LIST
		u.push(&pyList{})
	case '}': // EMPTY_DICT
		u.push(&pyDict{})
	case 'N':
		u.push(nil)
	case 0x88:
		u.push(true)
	case 0x89:
		u.push(false)
	case 't': // TUPLE
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(pyTuple(items))
	case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
		n := int(op - 0x84)
		if len(u.stack) < n || (len(u.marks) > 0 && len(u.stack)-n < u.marks[len(u.marks)-1]) {
			return errors.New("the pickle makes a tuple of more values than its stack holds")
		}
		t := append(pyTuple(nil), u.stack[len(u.stack)-n:]...)
		u.stack = u.stack[:len(u.stack)-n]
		u.push(t)
	case 'l': // LIST
		items, err := u.popMark()
		if err != nil {
			return err
		}
		u.push(&pyList{items})
	case 'd': // DICT
		items, err := u.popMark()
		if err != nil {
			return err
		}
		d := &pyDict{}
		if err := d.setItems(items); err != nil {
			return err
		}
		u.push(d)
	case 'a': // APPEND
		v, err := u.pop()
		if err != nil {
			return err
		}
		return u.appendTo([]any{v})
	case 'e': // APPENDS
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.appendTo(items)
	case 's': // SETITEM
		k, v, err := u.pop2()
		if err != nil {
			return err
		}
		return u.setItems([]any{k, v})
	case 'u': // SETITEMS
		items, err := u.popMark()
		if err != nil {
			return err
		}
		return u.setItems(items)
	case '0': // POP
		_, err := u.pop()
		return err
	case '1': // POP_MARK
		_, err := u.popMark()
		return err
	case '2': // DUP
		v, err := u.top()
		if err != nil {
			return err
		}
		u.push(v)
	case 'K', 'M', 'J': // BININT1, BININT2, BININT
		n := map[byte]int{'K': 1, 'M': 2, 'J': 4}[op]
		v, err := u.readUint(n)
		if err != nil {
			return err
		}
		if op == 'J' {
			u.push(int64(int32(uint32(v))))
		} else {
			u.push(int64(v))
		}
	case 0x8a: // LONG1: a little-endian two's-complement integer
		n, err := u.readUint(1)
		if err != nil {
			return err
		}
		if n > 8 {
			b, err := u.read(int(n))
			if err != nil {
				return err
			}
			u.push(append(pyLong(nil), b...))
			return nil
		}
		v, err := u.readUint(int(n))
		if err != nil {
			return err
		}
		if n > 0 && n < 8 && v&(1<<(8*n-1)) != 0 {
			v |= ^uint64(0) << (8 * n)
		}
		u.push(int64(v))
	case 'I', 'L': // INT, LONG (protocol 0)
		s, err := u.readLine()
		if err != nil {
			return err
		}
		s = strings.TrimSuffix(s, "L")
		switch s {
		case "00":
			u.push(false)
		case "01":
			u.push(true)
		default:
			var v int64
			if _, err := fmt.Sscanf(s, "%d", &v); err != nil {
				return fmt.Errorf("integer %q: %v", s, err)
			}
			u.push(v)
		}
	case 'G': // BINFLOAT, big-endian
		b, err := u.read(8)
		if err != nil {
			return err
		}
		u.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case 0x8c, 'X', 0x8d, 'U', 'T', 'C', 'B', 0x8e: // strings and bytes
		n := map[byte]int{0x8c: 1, 'X': 4, 0x8d: 8, 'U': 1, 'T': 4, 'C': 1, 'B': 4, 0x8e: 8}[op]
		l, err := u.readUint(n)
		if err != nil {
			return err
		}
		if l > uint64(len(u.data)-u.pos) {
			return errTruncated
		}
		b, _ := u.read(int(l))
		switch op {
		case 'C', 'B', 0x8e:
			u.push(append([]byte(nil), b...))
		case 0x8c, 'X', 0x8d:
			if !utf8.Valid(b) {
				return errors.New("a string that is not valid UTF-8")
			}
			u.push(string(b))
		default: // Python 2 byte strings, read as text
			u.push(string(b))
		}
	case 'c': // GLOBAL: module and name as text lines
		module, err := u.readLine()
		if err != nil {
			return err
		}
		name, err := u.readLine()
		if err != nil {
			return err
		}
		return u.global(module, name)
	case 0x93: // STACK_GLOBAL
		module, name, err := u.pop2()
		if err != nil {
			return err
		}
		m, ok1 := module.(string)
		n, ok2 := name.(string)
		if !ok1 || !ok2 {
			return errors.New("STACK_GLOBAL of values that are not strings")
		}
		return u.global(m, n)
	case 'q', 'r', 0x94: // BINPUT, LONG_BINPUT, MEMOIZE
		var i uint64
		var err error
		switch op {
		case 'q':
			i, err = u.readUint(1)
		case 'r':
			i, err = u.readUint(4)
		default:
			i = uint64(len(u.memo))
		}
		if err != nil {
			return err
		}
		return u.memoPut(uint32(i))
	case 'p': // PUT
		i, err := u.readIndexLine()
		if err != nil {
			return err
		}
		return u.memoPut(i)
	case 'h', 'j': // BINGET, LONG_BINGET
		n := 1
		if op == 'j' {
			n = 4
		}
		i, err := u.readUint(n)
		if err != nil {
			return err
		}
		v, err := u.memoGet(uint32(i))
		if err != nil {
			return err
		}
		u.push(v)
	case 'g': // GET
		i, err := u.readIndexLine()
		if err != nil {
			return err
		}
		v, err := u.memoGet(i)
		if err != nil {
			return err
		}
		u.push(v)
	case 'Q': // BINPERSID
		id, err := u.pop()
		if err != nil {
			return err
		}
		return u.persist(id)
	case 'P': // PERSID
		s, err := u.readLine()
		if err != nil {
			return err
		}
		return u.persist(s)
	case 'R': // REDUCE
		fn, args, err := u.pop2()
		if err != nil {
			return err
		}
		t, ok := args.(pyTuple)
		if !ok {
			return fmt.Errorf("REDUCE with arguments that are a %s, not a tuple", pyType(args))
		}
		v, err := call(fn, t)
		if err != nil {
			return err
		}
		u.push(v)
	case 0x81: // NEWOBJ
		cls, args, err := u.pop2()
		if err != nil {
			return err
		}
		t, ok := args.(pyTuple)
		if !ok {
			return errors.New("NEWOBJ with arguments that are not a tuple")
		}
		if g, ok := cls.(pyGlobal); !ok || g != (pyGlobal{"collections", "OrderedDict"}) || len(t) != 0 {
			return fmt.Errorf("NEWOBJ of %s: only an empty OrderedDict is built", pyType(cls))
		}
		u.push(&pyDict{})
	case 'b': // BUILD: set an object's state
		state, err := u.pop()
		if err != nil {
			return err
		}
		obj, err := u.top()
		if err != nil {
			return err
		}
		switch obj.(type) {
		case *pyDict, *pyTensor:
			// An OrderedDict's state is its attributes (a state dict's
			// _metadata: module versions); a tensor's, its Python
			// attributes. Neither changes the weights.
			_ = state
		default:
			return fmt.Errorf("BUILD on a %s", pyType(obj))
		}
	default:
		return fmt.Errorf("opcode not used by state dicts (refused)")
	}
	return nil
}

func (u *unpickler) global(module, name string) error {
	full := module + "." + name
	if !allowedGlobals[full] {
		return fmt.Errorf("refusing the global %s: a checkpoint of weights never needs it, and loading it could run code", full)
	}
	u.push(pyGlobal{module, name})
	return nil
}

func (u *unpickler) persist(id any) error {
	if u.persistent == nil {
		return errors.New("a persistent id where none is expected")
	}
	v, err := u.persistent(id)
	if err != nil {
		return err
	}
	u.push(v)
	return nil
}

func (u *unpickler) appendTo(items []any) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	l, ok := v.(*pyList)
	if !ok {
		return fmt.Errorf("APPEND to a %s", pyType(v))
	}
	l.items = append(l.items, items...)
	return nil
}

func (u *unpickler) setItems(items []any) error {
	v, err := u.top()
	if err != nil {
		return err
	}
	d, ok := v.(*pyDict)
	if !ok {
		return fmt.Errorf("SETITEM on a %s", pyType(v))
	}
	return d.setItems(items)
}

func (d *pyDict) setItems(items []any) error {
	if len(items)%2 != 0 {
		return errors.New("a dictionary of an odd number of keys and values")
	}
	for i := 0; i < len(items); i += 2 {
		k := items[i]
		switch k.(type) {
		case string, int64, bool, nil:
		default:
			return fmt.Errorf("a dictionary key that is a %s", pyType(k))
		}
		if d.index == nil {
			d.index = map[any]int{}
		}
		if j, ok := d.index[k]; ok {
			d.vals[j] = items[i+1]
			continue
		}
		d.index[k] = len(d.keys)
		d.keys, d.vals = append(d.keys, k), append(d.vals, items[i+1])
	}
	return nil
}

// call applies one of the allowed callables.
func call(fn any, args pyTuple) (any, error) {
	g, ok := fn.(pyGlobal)
	if !ok {
		return nil, fmt.Errorf("REDUCE calls a %s", pyType(fn))
	}
	switch g.module + "." + g.name {
	case "collections.OrderedDict":
		if len(args) != 0 {
			return nil, errors.New("OrderedDict built from arguments (only the empty one is)")
		}
		return &pyDict{}, nil
	case "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2":
		// (storage, storage_offset, size, stride[, requires_grad,
		// backward_hooks[, metadata]])
		if len(args) < 4 {
			return nil, fmt.Errorf("%s with %d arguments", g.name, len(args))
		}
		s, ok := args[0].(*pyStorage)
		if !ok {
			return nil, fmt.Errorf("%s of a %s, not a storage", g.name, pyType(args[0]))
		}
		off, ok := args[1].(int64)
		if !ok || off < 0 || off > math.MaxInt32*int64(1<<16) {
			return nil, fmt.Errorf("%s: storage offset %v", g.name, args[1])
		}
		size, err := ints(args[2])
		if err != nil {
			return nil, fmt.Errorf("%s: size: %v", g.name, err)
		}
		stride, err := ints(args[3])
		if err != nil {
			return nil, fmt.Errorf("%s: stride: %v", g.name, err)
		}
		if len(size) != len(stride) {
			return nil, fmt.Errorf("%s: size %v and stride %v differ in length", g.name, size, stride)
		}
		return &pyTensor{storage: s, offset: int(off), size: size, stride: stride}, nil
	case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state":
		if len(args) < 1 {
			return nil, fmt.Errorf("%s without arguments", g.name)
		}
		if _, ok := args[0].(*pyTensor); !ok {
			return nil, fmt.Errorf("%s of a %s, not a tensor", g.name, pyType(args[0]))
		}
		return args[0], nil
	case "torch._tensor._rebuild_from_type_v2":
		// (func, new_type, args, state): func(*args), retyped as a
		// Tensor or Parameter.
		if len(args) != 4 {
			return nil, fmt.Errorf("%s with %d arguments", g.name, len(args))
		}
		if t, ok := args[1].(pyGlobal); !ok || (t.name != "Tensor" && t.name != "Parameter") {
			return nil, fmt.Errorf("%s to the type %s", g.name, pyType(args[1]))
		}
		inner, ok := args[2].(pyTuple)
		if !ok {
			return nil, fmt.Errorf("%s with arguments that are not a tuple", g.name)
		}
		if f, ok := args[0].(pyGlobal); !ok || !strings.HasPrefix(f.module+"."+f.name, "torch._utils._rebuild_") {
			return nil, fmt.Errorf("%s of %s", g.name, pyType(args[0]))
		}
		return call(args[0], inner)
	}
	return nil, fmt.Errorf("%s.%s is not callable here", g.module, g.name)
}

// ints reads a tuple of non-negative integers (a size or a stride).
func ints(v any) ([]int, error) {
	t, ok := v.(pyTuple)
	if !ok {
		return nil, fmt.Errorf("a %s, not a tuple", pyType(v))
	}
	if len(t) > 64 {
		return nil, fmt.Errorf("%d dimensions", len(t))
	}
	out := make([]int, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 || n > math.MaxInt32*int64(1<<16) {
			return nil, fmt.Errorf("%v is not a valid extent", x)
		}
		out[i] = int(n)
	}
	return out, nil
}

// pyType names a value's Python type for errors.
func pyType(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case pyTuple:
		return "tuple"
	case *pyList:
		return "list"
	case *pyDict:
		return "dict"
	case pyGlobal:
		return v.module + "." + v.name
	case *pyStorage:
		return "storage"
	case *pyTensor:
		return "tensor"
	case pyLong:
		return "int"
	}
	return fmt.Sprintf("%T", v)
}
