// noisy: writes to stdout and stderr, panics and allocates on command, for the guest-output and
// memory-limit tests (tests/e2e/go_guests_test.py).
//
// Requests: "panic <text>" panics with <text> (uncaught: the Go runtime prints the panic and the
// goroutine's stack trace to stderr and exits, so the call traps); "print <n>" prints n numbered
// lines to stdout; "stderr <text>" writes one line to stderr; "hog" keeps allocating until the
// memory limit stops it; "grow <n>" keeps n more MiB and replies with how many it holds.
package export_capsule_core_lifecycle

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
	types "wit_component/capsule_core_types"
)

type (
	unit  = witTypes.Unit
	reply = witTypes.Option[types.Payload]
)

var kept [][]byte

// hog keeps 1 MiB buffers, each touched so it is really allocated, none ever freed.
func hog() {
	for {
		buffer := make([]byte, 1<<20)
		for i := range buffer {
			buffer[i] = 0xab
		}
		kept = append(kept, buffer)
	}
}

// fail is a named frame for the stack trace the panic prints.
func fail(text string) {
	panic(text)
}

func Init(config []witTypes.Tuple2[string, string]) witTypes.Result[unit, types.Error] {
	return witTypes.Ok[unit, types.Error](unit{})
}

func HandleMessage(msg types.Message) witTypes.Result[reply, types.Error] {
	command, arg, _ := strings.Cut(string(msg.Payload.Bytes), " ")
	switch command {
	case "panic":
		fail(arg)
	case "print":
		n, _ := strconv.Atoi(arg)
		for i := 0; i < n; i++ {
			fmt.Printf("noisy line %d\n", i)
		}
	case "stderr":
		fmt.Fprintln(os.Stderr, arg)
	case "hog":
		hog()
	case "grow":
		n, _ := strconv.Atoi(arg)
		for i := 0; i < n; i++ {
			buffer := make([]byte, 1<<20)
			for j := range buffer {
				buffer[j] = byte(j)
			}
			kept = append(kept, buffer)
		}
		return witTypes.Ok[reply, types.Error](witTypes.Some(types.Payload{Codec: 0x0f,
			Bytes: []byte("holding " + strconv.Itoa(len(kept)) + " MiB")}))
	}
	return witTypes.Ok[reply, types.Error](witTypes.Some(types.Payload{Codec: 0x0f, Bytes: []byte("done")}))
}

func HandleCallback(response types.Callback) witTypes.Result[unit, types.Error] {
	return witTypes.Ok[unit, types.Error](unit{})
}

func Health() types.HealthStatus { return types.HealthStatusHealthy }

func Shutdown() {}

func Metadata() types.ComponentMetadata {
	return types.ComponentMetadata{Name: "go-noisy", Version: "0.1.0",
		Description: "Prints, panics and allocates on command (Go)"}
}
