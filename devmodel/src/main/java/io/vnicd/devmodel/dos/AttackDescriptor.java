package io.vnicd.devmodel.dos;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What identifies the traffic of one attack, as an operator or a detector reports it. Null fields match
 * anything; at least one field must be given. Values use the rule-spec syntax of
 * {@link io.vnicd.devmodel.classify.Match} ("10.0.0.0/24", "tcp", "80").
 *
 * @param name              names the containment rule ("dos:" + name) and its counters
 * @param srcIp             source address or prefix
 * @param dstIp             destination address or prefix
 * @param protocol          "tcp", "udp", a number...
 * @param srcPort           source port or value/mask (needs a protocol)
 * @param dstPort           destination port or value/mask (needs a protocol)
 * @param framesPerInterval this attack's own budget on the standby target, per interval of the
 *                          containment; 0 to share the containment's standby budget
 */
public record AttackDescriptor(String name, String srcIp, String dstIp, String protocol, String srcPort,
                               String dstPort, long framesPerInterval) {
    /** The rule-spec match fields this attack maps to. */
    public Map<String, String> matchFields() {
        Map<String, String> m = new LinkedHashMap<>();
        put(m, "src-ip", srcIp);
        put(m, "dst-ip", dstIp);
        put(m, "proto", protocol);
        put(m, "src-port", srcPort);
        put(m, "dst-port", dstPort);
        return m;
    }

    private static void put(Map<String, String> m, String k, String v) {
        if (v != null && !v.isBlank()) {
            m.put(k, v);
        }
    }
}
