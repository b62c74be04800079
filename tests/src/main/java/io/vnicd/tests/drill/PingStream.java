package io.vnicd.tests.drill;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What iputils' {@code ping -D -i INTERVAL} printed, read: when each reply came, how many were sent and answered,
 * and the largest gap between two replies (where a failover shows).
 */
public record PingStream(long sent, long received, List<Reply> replies) {
    private static final Pattern REPLY = Pattern.compile("^\\[(\\d+\\.\\d+)] .*icmp_seq=(\\d+) .*$");
    private static final Pattern SUMMARY = Pattern.compile("(\\d+) packets transmitted, (\\d+) received");

    /** One reply: its sequence number and when it came (seconds, from ping's -D stamp). */
    public record Reply(long seq, double at) {
    }

    public static PingStream parse(String output) {
        List<Reply> replies = new ArrayList<>();
        long sent = 0;
        long received = 0;
        for (String line : output.split("\n")) {
            Matcher m = REPLY.matcher(line.strip());
            if (m.matches()) {
                replies.add(new Reply(Long.parseLong(m.group(2)), Double.parseDouble(m.group(1))));
                continue;
            }
            Matcher s = SUMMARY.matcher(line);
            if (s.find()) {
                sent = Long.parseLong(s.group(1));
                received = Long.parseLong(s.group(2));
            }
        }
        return new PingStream(sent, received, List.copyOf(replies));
    }

    public long lost() {
        return sent - received;
    }

    /** The largest time between two consecutive replies, in milliseconds, among replies stamped in [from, to). */
    public double largestGapMillis(double from, double to) {
        double gap = 0;
        Reply last = null;
        for (Reply r : replies) {
            if (r.at() < from || r.at() >= to) {
                continue;
            }
            if (last != null) {
                gap = Math.max(gap, r.at() - last.at());
            }
            last = r;
        }
        return gap * 1000;
    }

    /**
     * The largest gap, in milliseconds, between two consecutive replies of which the later came at or after from and
     * the earlier before to: the gap that spans a failure made at from, as seen within to.
     */
    public double gapAcrossMillis(double from, double to) {
        double gap = 0;
        for (int i = 1; i < replies.size(); i++) {
            Reply a = replies.get(i - 1);
            Reply b = replies.get(i);
            if (b.at() >= from && a.at() < to) {
                gap = Math.max(gap, b.at() - a.at());
            }
        }
        return gap * 1000;
    }

    public double largestGapMillis() {
        return largestGapMillis(Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY);
    }
}
