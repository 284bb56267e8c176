package tensor

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// PyTorch checkpoints (torch.save; a hub's pytorch_model.bin). Since
// PyTorch 1.6 a checkpoint is a zip archive: NAME/data.pkl is the pickled
// object, each tensor's storage standing in it as a persistent id
// ("storage", StorageClass, key, location, numel), and NAME/data/KEY holds
// that storage's bytes. The older ("legacy") format is a run of pickles
// (magic number, protocol version, system info, the object, the storage
// keys) followed by each storage's element count and bytes; it is read too.
// The pickles are run by the restricted unpickler of pickle.go: only
// state-dict structure and tensor rebuilding, every other global refused
// by name, as torch.load(weights_only=True) does.

const (
	maxPickle = 1 << 30 // bytes of data.pkl
	// maxDeflate bounds what a compressed zip entry may expand to
	// (deflate's best ratio is about 1032:1).
	maxDeflate = 1032
)

// legacyMagic is the first pickle of a legacy checkpoint, the integer
// 0x1950a86a20f9469cfc6c, little-endian.
var legacyMagic = pyLong{0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}

// ReadPyTorch reads a PyTorch checkpoint holding a state dict (a dict of
// names to tensors, as model.state_dict() and the hub's pytorch_model.bin
// hold), in the zip format or the legacy one. Tensors come back contiguous
// in their own dtypes (F32, F16, BF16, F64, I64, ...), each with its own
// copy of the data even where the file shares a storage between them.
func ReadPyTorch(path string) (*Safetensors, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePyTorch(b, path)
}

// ParsePyTorch reads a PyTorch checkpoint held in b; path names it in
// errors. Nothing in the file is executed: a pickle that names any global
// other than those that rebuild tensors and ordered dicts is refused.
func ParsePyTorch(b []byte, path string) (*Safetensors, error) {
	fail := func(err error) (*Safetensors, error) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var f *Safetensors
	var err error
	if bytes.HasPrefix(b, []byte("PK\x03\x04")) || bytes.HasPrefix(b, []byte("PK\x05\x06")) {
		f, err = parseTorchZip(b, path)
	} else if len(b) > 2 && b[0] == 0x80 {
		f, err = parseTorchLegacy(b, path)
	} else {
		err = errors.New("neither a zip archive (torch.save since PyTorch 1.6) nor a legacy pickle")
	}
	if err != nil {
		return fail(err)
	}
	return f, nil
}

// parseTorchZip reads the zip format.
func parseTorchZip(b []byte, path string) (*Safetensors, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, err
	}
	entries := map[string]*zip.File{}
	prefix := ""
	for _, zf := range zr.File {
		entries[zf.Name] = zf
		if dir, base := splitEntry(zf.Name); base == "data.pkl" && !strings.Contains(dir, "/") {
			if prefix != "" {
				return nil, fmt.Errorf("two pickles, %sdata.pkl and %s", prefix, zf.Name)
			}
			prefix = zf.Name[:len(zf.Name)-len("data.pkl")]
		}
	}
	if prefix == "" {
		return nil, errors.New("the zip archive has no ARCHIVE/data.pkl")
	}
	if bo, ok := entries[prefix+"byteorder"]; ok {
		order, err := readEntry(b, bo, 16)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", bo.Name, err)
		}
		if s := strings.TrimSpace(string(order)); s != "little" {
			return nil, fmt.Errorf("%s says %q: only little-endian checkpoints are read", bo.Name, s)
		}
	}
	pkl, err := readEntry(b, entries[prefix+"data.pkl"], maxPickle)
	if err != nil {
		return nil, fmt.Errorf("%sdata.pkl: %w", prefix, err)
	}
	storages := map[string]*pyStorage{}
	u := &unpickler{data: pkl, persistent: func(id any) (any, error) { return storageID(id, storages, false) }}
	obj, err := u.run()
	if err != nil {
		return nil, fmt.Errorf("%sdata.pkl: %w", prefix, err)
	}
	if u.pos != len(pkl) {
		return nil, fmt.Errorf("%sdata.pkl: %d bytes after the pickle's STOP", prefix, len(pkl)-u.pos)
	}
	return stateDict(obj, path, len(b), func(s *pyStorage) ([]byte, error) {
		name := prefix + "data/" + s.key
		zf := entries[name]
		if zf == nil {
			return nil, fmt.Errorf("storage %q: the archive has no %s", s.key, name)
		}
		want := uint64(s.numel) * uint64(dtypeSizes[s.dtype])
		if zf.UncompressedSize64 < want {
			return nil, fmt.Errorf("storage %q: %s holds %d bytes, %d %s values need %d", s.key, name, zf.UncompressedSize64, s.numel, s.dtype, want)
		}
		raw, err := readEntry(b, zf, want)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return raw[:want], nil
	})
}

// splitEntry is path.Split without the trailing slash on the directory.
func splitEntry(name string) (dir, base string) {
	dir, base = path.Split(name)
	return strings.TrimSuffix(dir, "/"), base
}

// readEntry returns the bytes of a zip entry, at most limit of them: a
// stored entry (as torch.save writes them all) as a slice of the archive
// itself, a compressed one read within the bound its compressed size
// allows. Sizes the archive claims are checked against its length before
// anything is allocated.
func readEntry(archive []byte, zf *zip.File, limit uint64) ([]byte, error) {
	if zf == nil {
		return nil, errors.New("missing")
	}
	n := min(zf.UncompressedSize64, limit)
	if zf.CompressedSize64 > uint64(len(archive)) {
		return nil, fmt.Errorf("claims %d bytes in an archive of %d", zf.CompressedSize64, len(archive))
	}
	if zf.Method == zip.Store {
		off, err := zf.DataOffset()
		if err != nil {
			return nil, err
		}
		if n > zf.CompressedSize64 || off < 0 || uint64(off)+n > uint64(len(archive)) {
			return nil, fmt.Errorf("claims %d bytes at offset %d of an archive of %d", n, off, len(archive))
		}
		return archive[off : uint64(off)+n], nil
	}
	if n > maxDeflate*zf.CompressedSize64+1024 {
		return nil, fmt.Errorf("claims %d bytes from %d compressed", zf.UncompressedSize64, zf.CompressedSize64)
	}
	r, err := zf.Open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out := make([]byte, n)
	if _, err := io.ReadFull(r, out); err != nil {
		return nil, err
	}
	return out, nil
}

// storageID turns a persistent id into its storage, one per key (tensors
// that share a storage get the same one). The legacy format adds a sixth
// element: a view (root key, offset, numel) of another storage, or None.
func storageID(id any, storages map[string]*pyStorage, legacy bool) (any, error) {
	t, ok := id.(pyTuple)
	if !ok || len(t) < 5 || t[0] != "storage" {
		return nil, fmt.Errorf("a persistent id that is not a storage: %s", pyType(id))
	}
	cls, ok := t[1].(pyGlobal)
	dtype := storageDTypes[cls.name]
	if !ok || cls.module != "torch" || dtype == "" {
		return nil, fmt.Errorf("storage of type %s", pyType(t[1]))
	}
	key, ok1 := t[2].(string)
	numel, ok2 := t[4].(int64)
	if !ok1 || !ok2 || numel < 0 || numel > 1<<40 {
		return nil, fmt.Errorf("storage id %v: want a string key and an element count", []any(t))
	}
	s := &pyStorage{key: key, dtype: dtype, numel: int(numel), root: key}
	if legacy && len(t) == 6 && t[5] != nil {
		view, ok := t[5].(pyTuple)
		if !ok || len(view) != 3 {
			return nil, fmt.Errorf("storage %q: view %s", key, pyType(t[5]))
		}
		vkey, ok1 := view[0].(string)
		off, ok2 := view[1].(int64)
		n, ok3 := view[2].(int64)
		if !ok1 || !ok2 || !ok3 || off < 0 || n < 0 || off > 1<<40 || n > 1<<40 {
			return nil, fmt.Errorf("storage %q: view %v", key, []any(view))
		}
		// The view is its own key; the bytes are the root's.
		s = &pyStorage{key: vkey, dtype: dtype, numel: int(n), root: key, offset: int(off)}
		if root, ok := storages[key]; !ok {
			storages[key] = &pyStorage{key: key, dtype: dtype, numel: int(numel), root: key}
		} else if root.dtype != dtype || root.numel != int(numel) {
			return nil, fmt.Errorf("storage %q is given as %d %s and as %d %s", key, root.numel, root.dtype, numel, dtype)
		}
		if s.offset+s.numel > int(numel) {
			return nil, fmt.Errorf("storage view %q: elements [%d, %d) of a storage of %d", vkey, s.offset, s.offset+s.numel, numel)
		}
	}
	if old, ok := storages[s.key]; ok {
		if old.dtype != s.dtype || old.numel != s.numel || old.root != s.root || old.offset != s.offset {
			return nil, fmt.Errorf("storage %q is given as %d %s and as %d %s", s.key, old.numel, old.dtype, s.numel, s.dtype)
		}
		return old, nil
	}
	storages[s.key] = s
	return s, nil
}

// stateDict turns the unpickled object (a dict of names to tensors) into
// tensors, reading each storage's bytes once through load.
func stateDict(obj any, path string, fileSize int, load func(*pyStorage) ([]byte, error)) (*Safetensors, error) {
	d, ok := obj.(*pyDict)
	if !ok {
		return nil, fmt.Errorf("the checkpoint holds a %s, not a dict of tensors", pyType(obj))
	}
	f := &Safetensors{Path: path, Metadata: map[string]string{}, infos: map[string]*SafetensorsInfo{}}
	cache := map[string][]byte{}
	// Views may repeat elements (tied weights, stride-0 expansions), but a
	// file that asks for far more than it holds is refused before the
	// allocation.
	budget := 8*int64(fileSize) + 1<<20
	for i, k := range d.keys {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("key %v is a %s, not a tensor name", k, pyType(k))
		}
		t, ok := d.vals[i].(*pyTensor)
		if !ok {
			return nil, fmt.Errorf("%q is a %s, not a tensor (only state dicts are read)", name, pyType(d.vals[i]))
		}
		s := t.storage
		raw, ok := cache[s.root]
		if !ok {
			var err error
			root := s
			if s.root != s.key { // a legacy view: the bytes are its root's
				root = &pyStorage{key: s.root, dtype: s.dtype, root: s.root}
			}
			if raw, err = load(root); err != nil {
				return nil, err
			}
			cache[s.root] = raw
		}
		size := dtypeSizes[s.dtype]
		lo, hi := s.offset*size, (s.offset+s.numel)*size
		if hi > len(raw) {
			return nil, fmt.Errorf("%q: storage %q has %d bytes, its view needs [%d, %d)", name, s.key, len(raw), lo, hi)
		}
		n, err := numel(t.size)
		if err != nil {
			return nil, fmt.Errorf("%q: size %v: %v", name, t.size, err)
		}
		if budget -= int64(n) * int64(size); budget < 0 {
			return nil, fmt.Errorf("%q: its views add up to more than 8 times the file's %d bytes", name, fileSize)
		}
		data, err := gather(raw[lo:hi], size, t)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", name, err)
		}
		info := &SafetensorsInfo{Name: name, DType: s.dtype, Shape: append([]int{}, t.size...), elementSize: size, raw: data}
		f.infos[name] = info
		f.order = append(f.order, name)
	}
	off := 0
	for _, name := range f.order {
		in := f.infos[name]
		in.Begin, in.End = off, off+len(in.raw)
		off = in.End
	}
	return f, nil
}

// gather copies the elements a tensor views (offset, size, stride over
// its storage's bytes) into row-major order, after checking that they lie
// inside the storage.
func gather(storage []byte, elem int, t *pyTensor) ([]byte, error) {
	n, err := numel(t.size)
	if err != nil {
		return nil, fmt.Errorf("size %v: %v", t.size, err)
	}
	if n == 0 {
		return []byte{}, nil
	}
	last := t.offset // the highest element index the view reaches
	contiguous, want := true, 1
	for d := len(t.size) - 1; d >= 0; d-- {
		if t.size[d] > 1 && t.stride[d] > (len(storage)/elem)/(t.size[d]-1)+1 {
			return nil, fmt.Errorf("stride %v runs past a storage of %d elements", t.stride, len(storage)/elem)
		}
		last += (t.size[d] - 1) * t.stride[d]
		if t.size[d] > 1 && t.stride[d] != want {
			contiguous = false
		}
		want *= t.size[d]
	}
	if last >= len(storage)/elem {
		return nil, fmt.Errorf("offset %d, size %v and stride %v reach element %d of a storage of %d", t.offset, t.size, t.stride, last, len(storage)/elem)
	}
	if contiguous {
		return slices.Clone(storage[t.offset*elem : (t.offset+n)*elem]), nil
	}
	out := make([]byte, 0, n*elem)
	idx := make([]int, len(t.size))
	for {
		at := t.offset
		for d, i := range idx {
			at += i * t.stride[d]
		}
		out = append(out, storage[at*elem:(at+1)*elem]...)
		d := len(idx) - 1
		for ; d >= 0; d-- {
			if idx[d]++; idx[d] < t.size[d] {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return out, nil
		}
	}
}

// parseTorchLegacy reads the format of torch.save before PyTorch 1.6.
func parseTorchLegacy(b []byte, path string) (*Safetensors, error) {
	pos := 0
	next := func(what string, persistent func(any) (any, error)) (any, error) {
		u := &unpickler{data: b[pos:], persistent: persistent}
		v, err := u.run()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		pos += u.pos
		return v, nil
	}
	magic, err := next("magic number", nil)
	if err != nil {
		return nil, err
	}
	if m, ok := magic.(pyLong); !ok || !bytes.Equal(m, legacyMagic) {
		return nil, errors.New("a pickle that does not start with torch.save's magic number")
	}
	if _, err := next("protocol version", nil); err != nil {
		return nil, err
	}
	info, err := next("system info", nil)
	if err != nil {
		return nil, err
	}
	if d, ok := info.(*pyDict); ok {
		if j, ok := d.index["little_endian"]; ok && d.vals[j] != true {
			return nil, errors.New("a big-endian checkpoint (only little-endian ones are read)")
		}
	}
	storages := map[string]*pyStorage{}
	obj, err := next("the state dict", func(id any) (any, error) { return storageID(id, storages, true) })
	if err != nil {
		return nil, err
	}
	keysV, err := next("the storage keys", nil)
	if err != nil {
		return nil, err
	}
	keys, ok := keysV.(*pyList)
	if !ok {
		return nil, fmt.Errorf("the storage keys are a %s, not a list", pyType(keysV))
	}
	data := map[string][]byte{}
	for _, k := range keys.items {
		key, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("a storage key that is a %s", pyType(k))
		}
		s := storages[key]
		if s == nil {
			return nil, fmt.Errorf("storage %q is in the file but no tensor uses it", key)
		}
		if pos+8 > len(b) {
			return nil, fmt.Errorf("storage %q: the file ends before its size", key)
		}
		n := binary.LittleEndian.Uint64(b[pos:])
		pos += 8
		size := uint64(dtypeSizes[s.dtype])
		if n != uint64(s.numel) || n*size > uint64(len(b)-pos) {
			return nil, fmt.Errorf("storage %q: %d elements recorded, %d expected, %d bytes left in the file", key, n, s.numel, len(b)-pos)
		}
		data[key] = b[pos : pos+int(n*size)]
		pos += int(n * size)
	}
	if pos != len(b) {
		return nil, fmt.Errorf("%d bytes after the last storage", len(b)-pos)
	}
	return stateDict(obj, path, len(b), func(s *pyStorage) ([]byte, error) {
		raw, ok := data[s.key]
		if !ok {
			return nil, fmt.Errorf("storage %q is not in the file", s.key)
		}
		return raw, nil
	})
}

// ReadWeightsFile reads a weights file by its name: *.safetensors as
// safetensors, anything else (pytorch_model.bin, *.pt) as a PyTorch
// checkpoint.
func ReadWeightsFile(path string) (*Safetensors, error) {
	if strings.HasSuffix(path, ".safetensors") {
		return ReadSafetensors(path)
	}
	return ReadPyTorch(path)
}

// ReadSharded reads a sharded checkpoint from its index
// (model.safetensors.index.json or pytorch_model.bin.index.json: a
// "weight_map" from each tensor's name to the file, beside the index,
// that holds it). Every name the index maps must be in its file, and no
// name in two files.
func ReadSharded(indexPath string) (*Safetensors, error) {
	b, err := os.ReadFile(indexPath)
	if err != nil {
		return nil, err
	}
	var index struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &index); err != nil {
		return nil, fmt.Errorf("%s: %w", indexPath, err)
	}
	if len(index.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: no weight_map", indexPath)
	}
	byFile := map[string][]string{}
	for name, file := range index.WeightMap {
		if file == "" || filepath.Base(file) != file {
			return nil, fmt.Errorf("%s: tensor %q is in %q, which is not a file name beside the index", indexPath, name, file)
		}
		byFile[file] = append(byFile[file], name)
	}
	files := make([]string, 0, len(byFile))
	for file := range byFile {
		files = append(files, file)
	}
	sort.Strings(files)
	out := &Safetensors{Path: indexPath, Metadata: map[string]string{}, infos: map[string]*SafetensorsInfo{}}
	for _, file := range files {
		part, err := ReadWeightsFile(filepath.Join(filepath.Dir(indexPath), file))
		if err != nil {
			return nil, err
		}
		names := byFile[file]
		for _, name := range names {
			if part.infos[name] == nil {
				return nil, fmt.Errorf("%s: the index puts %q in %s, which does not hold it", indexPath, name, file)
			}
		}
		for _, name := range part.order {
			if index.WeightMap[name] != file {
				continue // HF's loader reads only what the map points at
			}
			out.infos[name] = part.infos[name]
			out.order = append(out.order, name)
		}
	}
	return out, nil
}

// WriteFile writes the tensors as a safetensors file at path, each in its
// own dtype, in order, atomically (see WriteFileAtomic).
func (f *Safetensors) WriteFile(path string, metadata map[string]string) error {
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	off := 0
	for _, name := range f.order {
		in := f.infos[name]
		header[name] = map[string]any{"dtype": in.DType, "shape": in.Shape, "data_offsets": []int{off, off + len(in.raw)}}
		off += len(in.raw)
	}
	return writeSafetensors(path, header, func(w io.Writer) error {
		for _, name := range f.order {
			if _, err := w.Write(f.infos[name].raw); err != nil {
				return err
			}
		}
		return nil
	})
}

// Rename gives the tensor old the name new, keeping its place in the
// order; it is an error if old is absent or new is taken.
func (f *Safetensors) Rename(old, new string) error {
	in := f.infos[old]
	if in == nil {
		return fmt.Errorf("%s: no tensor named %q", f.Path, old)
	}
	if f.infos[new] != nil {
		return fmt.Errorf("%s: holds both %q and %q", f.Path, old, new)
	}
	delete(f.infos, old)
	in.Name = new
	f.infos[new] = in
	f.order[slices.Index(f.order, old)] = new
	return nil
}
