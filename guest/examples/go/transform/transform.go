// transform: uppercases each text payload and sends it to config `next` (ns/name/instance).
// With `fail_every=N` (N > 0) it panics on every Nth message: a deliberately flaky stage that its
// supervisor restarts. The Go twin of guest/examples/transform.c: the middle stage of the
// polyglot pipeline (examples/pipeline/polyglot.toml: C ingest -> Go transform -> Python store).
package export_capsule_core_lifecycle

import (
	"bytes"
	"strconv"
	"strings"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
	messaging "wit_component/capsule_core_messaging"
	services "wit_component/capsule_core_services"
	types "wit_component/capsule_core_types"
)

type (
	unit  = witTypes.Unit
	reply = witTypes.Option[types.Payload]
)

var (
	next      types.ComponentId
	failEvery uint64
	seen      uint64
)

func Init(config []witTypes.Tuple2[string, string]) witTypes.Result[unit, types.Error] {
	haveNext := false
	for _, entry := range config {
		switch entry.F0 {
		case "next":
			parts := strings.Split(entry.F1, "/")
			if len(parts) == 2 {
				parts = append(parts, "0")
			}
			if len(parts) == 3 && parts[0] != "" && parts[1] != "" && parts[2] != "" {
				next = types.ComponentId{Namespace: parts[0], Name: parts[1], Instance: parts[2]}
				haveNext = true
			}
		case "fail_every":
			value, err := strconv.ParseUint(entry.F1, 10, 32)
			if err != nil {
				return witTypes.Err[unit, types.Error](types.MakeErrorInvalidArgument(
					"fail_every must be a number, not '" + entry.F1 + "'"))
			}
			failEvery = value
		}
	}
	if !haveNext {
		return witTypes.Err[unit, types.Error](types.MakeErrorInvalidArgument(
			"transform needs config next=<ns/name[/instance]>"))
	}
	return witTypes.Ok[unit, types.Error](unit{})
}

func HandleMessage(msg types.Message) witTypes.Result[reply, types.Error] {
	seen++
	if failEvery > 0 && seen%failEvery == 0 {
		services.Log(types.LogLevelWarn, "flaky stage failing on purpose", nil)
		panic("transform: failing on purpose on message " + strconv.FormatUint(seen, 10))
	}
	out := types.Payload{Codec: msg.Payload.Codec, Bytes: bytes.ToUpper(msg.Payload.Bytes)}
	if sent := messaging.Send(next, out); sent.IsErr() {
		return witTypes.Err[reply, types.Error](sent.Err())
	}
	return witTypes.Ok[reply, types.Error](witTypes.None[types.Payload]())
}

func HandleCallback(response types.Callback) witTypes.Result[unit, types.Error] {
	return witTypes.Ok[unit, types.Error](unit{})
}

func Health() types.HealthStatus { return types.HealthStatusHealthy }

func Shutdown() {}

func Metadata() types.ComponentMetadata {
	return types.ComponentMetadata{Name: "go-transform", Version: "0.1.0",
		Description: "Uppercases payloads and forwards them (Go)"}
}
