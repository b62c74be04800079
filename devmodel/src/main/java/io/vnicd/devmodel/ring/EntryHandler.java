package io.vnicd.devmodel.ring;

/** Receives entries drained from a ring. A field-held instance keeps the drain loop free of allocation. */
@FunctionalInterface
public interface EntryHandler {
    void onEntry(long entry);
}
