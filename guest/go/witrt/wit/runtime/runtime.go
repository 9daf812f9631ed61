// Package runtime is the memory side of the canonical ABI for Go components: allocations that the
// host writes into (cabi_realloc) or that bindings hand to the host, kept in place while the host
// may read them.
//
// Go's collector does not move objects, so a pointer stays valid as long as the object is
// reachable; runtime.Pinner is what keeps an object reachable (and allowed to be seen by the host)
// while only the host holds its address.
package runtime

import (
	"runtime"
	"unsafe"
)

// hostAllocations holds what cabi_realloc handed to the host for an export's arguments. The
// generated export code copies what it needs into Go values, then calls Unpin.
var hostAllocations runtime.Pinner

// Allocate returns size bytes aligned to align (a power of two, at most 8 in the canonical ABI),
// pinned in pinner until the caller unpins it.
func Allocate(pinner *runtime.Pinner, size uintptr, align uintptr) unsafe.Pointer {
	if align == 0 || align&(align-1) != 0 || align > 8 {
		panic("wit runtime: alignment must be a power of two up to 8")
	}
	if size == 0 {
		// The canonical ABI never dereferences a zero-length allocation; any aligned non-zero
		// address will do.
		return unsafe.Pointer(align)
	}
	// []uint64 storage is 8-byte aligned, which covers every alignment the ABI asks for.
	words := make([]uint64, (size+7)/8)
	p := unsafe.Pointer(unsafe.SliceData(words))
	pinner.Pin(p)
	return p
}

// Unpin releases what the host allocated for the last export call's arguments.
func Unpin() {
	hostAllocations.Unpin()
	// A use the linker cannot drop: the arena must be linked in although no Go code reads it.
	if arenaAnchor == nil {
		panic("wit runtime: the adapter arena is missing")
	}
}

var arenaAnchor = &adapterArena

// adapterArena holds the WASI preview1 adapter's state and stack (128 KiB), so that nothing
// else has to give the adapter memory. The adapter asks for it on its first WASI call, which the
// Go runtime makes while it starts, before any Go export may run; and memory.grow, the other way
// the adapter can get memory, takes pages that the Go runtime later hands out as its own heap,
// which assumes it owns all memory above its data. The array is data that Go never writes; the
// build (cmake/CapsuleGoArena.py) finds it by its leading marker, which also states its size, and
// adds the allocator the adapter calls (cabi_realloc_adapter) over it.
var adapterArena = [arenaSize]byte{'c', 'a', 'p', 's', 'u', 'l', 'e', '-', 'a', 'd', 'a', 'p',
	't', 'e', 'r', '-', 'a', 'r', 'e', 'n', 'a', ':', '1', '3', '5', '1', '6', '8', ';'}

// The adapter asks for two blocks of 64 KiB (its state, its stack); 4 KiB more hold the marker
// and alignment.
const arenaSize = 135168

// The host allocates guest memory through these for the arguments it passes to an export and for
// the lists and strings an import returns. Growing copies into a new allocation; the old one is
// released with the rest at Unpin.
//
// They are deliberately not named `cabi_realloc`: wit-component would hand that one to the WASI
// preview1 adapter too, which allocates its state on the first WASI call - made by the Go runtime's
// own start-up, before a Go export may run ("wasmexport function called before runtime
// initialization"). Without `cabi_realloc` the adapter takes its pages with memory.grow.
//
//go:wasmexport cabi_export_realloc
func cabiExportRealloc(old unsafe.Pointer, oldSize, align, newSize uintptr) unsafe.Pointer {
	return reallocate(old, oldSize, align, newSize)
}

//go:wasmexport cabi_import_realloc
func cabiImportRealloc(old unsafe.Pointer, oldSize, align, newSize uintptr) unsafe.Pointer {
	return reallocate(old, oldSize, align, newSize)
}

func reallocate(old unsafe.Pointer, oldSize, align, newSize uintptr) unsafe.Pointer {
	p := Allocate(&hostAllocations, newSize, align)
	if old != nil && oldSize > 0 && newSize > 0 {
		copy(unsafe.Slice((*byte)(p), newSize), unsafe.Slice((*byte)(old), min(oldSize, newSize)))
	}
	return p
}
