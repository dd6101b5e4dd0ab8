#!/usr/bin/python3
"""Read a pcap (Ethernet, IPv4/IPv6) and report weft TCP options per flow.

  pcap_tcpopt.py FILE
Prints JSON: {"by_dport": {port: n_with_option}, "by_sport": {...},
"segments": total, "fin_by_dport": {port: n_fin}, "tls_ok": n, "tls_bad": n,
"bad": [...], "options": [{dport,
exid, trace_id, span_id, payload (first 32 bytes, hex)}]}. For every segment
carrying a weft option (kind 253, ExID 0xEF1x) the TCP payload must start with
a TLS record header whose length fits the segment (the option is in the header,
never in the data); such segments are counted in tls_ok, others in tls_bad.
"""
import json
import struct
import sys


def tcp_options(opts):
    i, out = 0, []
    while i < len(opts):
        k = opts[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= len(opts) or opts[i + 1] < 2:
            break
        n = opts[i + 1]
        out.append((k, opts[i + 2:i + n]))
        i += n
    return out


def main():
    data = open(sys.argv[1], "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    off = 24
    res = {"by_dport": {}, "by_sport": {}, "fin_by_dport": {}, "segments": 0, "tls_ok": 0, "tls_bad": 0, "bad": [],
           "options": []}
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        if len(pkt) < 14:
            continue
        et = struct.unpack("!H", pkt[12:14])[0]
        ip = pkt[14:]
        if et == 0x0800:
            ihl = (ip[0] & 15) * 4
            if ip[9] != 6:
                continue
            tot = struct.unpack("!H", ip[2:4])[0]
            tcp = ip[ihl:tot]
        elif et == 0x86DD:
            if ip[6] != 6:
                continue
            plen = struct.unpack("!H", ip[4:6])[0]
            tcp = ip[40:40 + plen]
        else:
            continue
        sport, dport = struct.unpack("!HH", tcp[:4])
        doff = (tcp[12] >> 4) * 4
        payload = tcp[doff:]
        res["segments"] += 1
        if tcp[13] & 1:
            res["fin_by_dport"][dport] = res["fin_by_dport"].get(dport, 0) + 1
        for kind, body in tcp_options(tcp[20:doff]):
            if kind == 253 and len(body) == 26 and body[0] == 0xEF and body[1] >> 4 == 1:
                res["options"].append({"dport": dport, "exid": body[:2].hex(),
                                       "trace_id": body[2:18].hex(), "span_id": body[18:26].hex(),
                                       "payload": payload[:32].hex()})
                res["by_dport"][dport] = res["by_dport"].get(dport, 0) + 1
                res["by_sport"][sport] = res["by_sport"].get(sport, 0) + 1
                ok = (len(payload) >= 5 and payload[0] == 0x17 and payload[1:3] == b"\x03\x03")
                if ok:
                    rl = struct.unpack("!H", payload[3:5])[0]
                    ok = 0 < rl <= 16384 + 256
                res["tls_ok" if ok else "tls_bad"] += 1
                if not ok:
                    res["bad"].append(payload[:8].hex())
    print(json.dumps(res))


main()
