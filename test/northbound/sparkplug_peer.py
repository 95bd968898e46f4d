"""An independent Sparkplug B host application for the tests: paho-mqtt (Debian python3-paho-mqtt) over MQTT 5 with
TLS 1.3 and a client certificate, decoding payloads with the Python module protoc generated from the repository's
sparkplug_b.proto (python3-protobuf). It shares no code with the edge node.

It prints one JSON line per message it receives (topic, kind, device, seq, timestamps, metrics) and checks the
Sparkplug 3.0 rules as a host must: NBIRTH has seq 0 and a bdSeq; every later message of the session has seq + 1
(mod 256); a DBIRTH names and aliases every metric, aliases unique across the node; a DDATA uses only aliases its
device's DBIRTH declared; an NDEATH carries the bdSeq of the NBIRTH it ends; nothing but an NBIRTH follows an NDEATH.
A broken rule prints {"violation": ...}.

Commands arrive as JSON lines on stdin: {"state": true|false} publishes this host's STATE (retained, QoS 1);
{"publish": topic, "metrics": [{"name"|"alias", "bool"|"double"}]} publishes a command payload.
Usage: sparkplug_peer.py PB2_DIR HOST PORT CA CERT KEY GROUP HOST_ID
"""
import json
import ssl
import sys
import threading
import time

sys.path.insert(0, sys.argv[1])
import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
import sparkplug_b_pb2 as pb  # noqa: E402

HOST, PORT, CA, CERT, KEY, GROUP, HOST_ID = sys.argv[2], int(sys.argv[3]), *sys.argv[4:9]
out_lock = threading.Lock()


def emit(obj):
    with out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


class Node:
    def __init__(self):
        self.online = False
        self.bdseq = None
        self.seq = None
        self.aliases = {}  # alias -> device


nodes = {}


def violation(text):
    emit({"violation": text})


def value_of(m):
    which = m.WhichOneof("value")
    return None if which is None else getattr(m, which)


def on_message(client, userdata, msg):
    parts = msg.topic.split("/")
    if parts[1] == "STATE":
        return
    kind, node_id = parts[2], parts[3]
    device = parts[4] if len(parts) > 4 else None
    if kind in ("NCMD", "DCMD"):
        return  # commands are this host's own (some deliberately malformed)
    p = pb.Payload()
    try:
        p.ParseFromString(msg.payload)
    except Exception as e:  # a payload that does not decode is itself a finding
        violation(f"{msg.topic}: undecodable payload: {e}")
        return
    metrics = [{"name": m.name if m.HasField("name") else None, "alias": m.alias if m.HasField("alias") else None,
                "ts": m.timestamp, "hist": m.is_historical, "value": value_of(m),
                "unit": dict(zip(m.properties.keys, [v.string_value for v in m.properties.values])).get("engUnit")}
               for m in p.metrics]
    seq = p.seq if p.HasField("seq") else None
    emit({"topic": msg.topic, "kind": kind, "node": node_id, "device": device, "seq": seq, "ts": p.timestamp, "metrics": metrics})
    n = nodes.setdefault(node_id, Node())
    if kind == "NBIRTH":
        bd = [m for m in p.metrics if m.name == "bdSeq"]
        if seq != 0:
            violation(f"NBIRTH seq {seq} != 0")
        if not bd:
            violation("NBIRTH without bdSeq")
        n.online, n.bdseq, n.seq, n.aliases = True, (bd[0].long_value if bd else None), 0, {}
        for m in p.metrics:
            n.aliases[m.alias] = None
        return
    if kind == "NDEATH":
        bd = [m for m in p.metrics if m.name == "bdSeq"]
        got = bd[0].long_value if bd else None
        if got != n.bdseq:
            # The will of a session that never reached its NBIRTH (e.g. waiting for this host): stale, ignored, as a
            # host must; only a born node's NDEATH has to match.
            if n.online:
                violation(f"NDEATH bdSeq {got} != NBIRTH bdSeq {n.bdseq} of the born node")
            return
        n.online = False
        return
    if kind in ("NCMD", "DCMD"):
        return
    if not n.online:
        violation(f"{kind} {msg.topic} while the node is not born")
        return
    expected = (n.seq + 1) % 256
    if seq != expected:
        violation(f"{kind} {msg.topic} seq {seq} != expected {expected}")
    n.seq = seq if seq is not None else n.seq
    if kind == "DBIRTH":
        for m in p.metrics:
            if not m.HasField("name") or not m.HasField("alias"):
                violation(f"DBIRTH {device}: metric without name or alias")
            if m.alias in n.aliases and n.aliases[m.alias] != device:
                violation(f"DBIRTH {device}: alias {m.alias} already used by {n.aliases[m.alias]}")
            n.aliases[m.alias] = device
    elif kind == "DDATA":
        for m in p.metrics:
            if n.aliases.get(m.alias) != device:
                violation(f"DDATA {device}: alias {m.alias} not born for this device")


online = {"state": False}


def publish_state(client):
    return client.publish(f"spBv1.0/STATE/{HOST_ID}", json.dumps({"online": online["state"], "timestamp": int(time.time() * 1000)}), qos=1, retain=True)


def on_connect(client, userdata, flags, rc, properties=None):
    client.subscribe(f"spBv1.0/{GROUP}/#", qos=0)
    # A host application announces its state on every connection (the broker may have lost the retained one).
    if online["state"]:
        publish_state(client)
    emit({"connected": True})


client = mqtt.Client(client_id=f"peer-{HOST_ID}", protocol=mqtt.MQTTv5)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_verify_locations(CA)
ctx.load_cert_chain(CERT, KEY)
client.tls_set_context(ctx)
client.on_message = on_message
client.on_connect = on_connect
client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)
client.will_set(f"spBv1.0/STATE/{HOST_ID}", json.dumps({"online": False, "timestamp": int(time.time() * 1000)}), qos=1, retain=True)
connect_props = Properties(PacketTypes.CONNECT)
connect_props.SessionExpiryInterval = 0
while True:
    try:
        client.connect(HOST, PORT, keepalive=10, clean_start=True, properties=connect_props)
        break
    except OSError:
        time.sleep(0.1)
client.loop_start()

for line in sys.stdin:
    cmd = json.loads(line)
    if "state" in cmd:
        online["state"] = bool(cmd["state"])
        publish_state(client).wait_for_publish(5)
        emit({"state_sent": bool(cmd["state"])})
    elif "publish" in cmd:
        p = pb.Payload()
        p.timestamp = int(time.time() * 1000)
        for m in cmd["metrics"]:
            pm = p.metrics.add()
            if "name" in m:
                pm.name = m["name"]
            if "alias" in m:
                pm.alias = m["alias"]
            if "bool" in m:
                pm.datatype, pm.boolean_value = 11, m["bool"]
            if "double" in m:
                pm.datatype, pm.double_value = 10, m["double"]
        raw = p.SerializeToString() if not cmd.get("garbage") else b"\xff\xff\xff\x0f"
        client.publish(cmd["publish"], raw, qos=1).wait_for_publish(5)
        emit({"published": cmd["publish"]})
client.loop_stop()
