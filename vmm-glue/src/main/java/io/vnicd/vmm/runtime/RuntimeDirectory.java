package io.vnicd.vmm.runtime;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

/**
 * The directory that holds the daemon's sockets. A socket there is only as private as the directory: whoever
 * can write it can replace a socket with their own (QEMU would then hand guest memory to them) or plant one
 * before the daemon starts. So, as sshd's StrictModes does for a home directory, the directory must be owned by
 * the daemon's user and writable by no one else, must not be a symbolic link, and each directory above it must
 * belong to root or the daemon's user and be writable by no one else unless sticky (as /tmp is: others may
 * create names there, but not rename or remove ours). One that fails is refused, naming the problem; nothing is
 * changed in a directory that is not ours.
 * <p>
 * A missing directory is created 0700, or 0750 with the group that must reach its sockets (QEMU's, as libvirt
 * does), through mkdir with that mode, so there is no moment where it is more open. Group write is never given.
 */
public final class RuntimeDirectory {
    private static final LinkOption[] NOFOLLOW = {LinkOption.NOFOLLOW_LINKS};
    private static final int S_IFMT = 0170000;
    private static final int S_IFDIR = 0040000;
    private static final int S_IFLNK = 0120000;
    private static final int S_IFSOCK = 0140000;
    private static final int S_ISVTX = 01000;
    private static final int S_IWGRP = 0020;
    private static final int S_IWOTH = 0002;

    private RuntimeDirectory() {
    }

    /** The effective uid of this process: the owner of /proc/self. */
    public static int effectiveUid() throws IOException {
        return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    }

    /** A group by name or number; unknown ones are refused with their name. */
    public static GroupPrincipal group(String nameOrGid) throws IOException {
        try {
            return FileSystems.getDefault().getUserPrincipalLookupService().lookupPrincipalByGroupName(nameOrGid);
        } catch (UserPrincipalNotFoundException e) {
            throw new IOException("group '" + nameOrGid + "' does not exist", e);
        }
    }

    /** "0660" (or "660") as permissions; the caller has checked it is octal within 0777. */
    public static Set<PosixFilePermission> mode(String octal) {
        int bits = Integer.parseInt(octal, 8);
        Set<PosixFilePermission> set = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] order = {
            PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
            PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
            PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ};
        for (int i = 0; i < order.length; i++) {
            if ((bits & (1 << i)) != 0) {
                set.add(order[i]);
            }
        }
        return set;
    }

    /**
     * Makes dir ready for the daemon's sockets: creates what is missing of it (0700, or 0750 with group), checks
     * it and the directories above it, and, when group is given, lets that group search it (never write).
     *
     * @param group the group whose members must reach sockets in dir, or null
     * @return dir as an absolute path
     * @throws IOException naming the problem when dir is not safe to hold sockets
     */
    public static Path prepare(Path dir, GroupPrincipal group) throws IOException {
        Path abs = dir.toAbsolutePath().normalize();
        createMissing(abs, group);
        check(abs);
        if (group != null) {
            PosixFileAttributeView view = Files.getFileAttributeView(abs, PosixFileAttributeView.class, NOFOLLOW);
            if (!view.readAttributes().group().equals(group)) {
                view.setGroup(group);
            }
            Set<PosixFilePermission> perms = view.readAttributes().permissions();
            if (!perms.contains(PosixFilePermission.GROUP_EXECUTE)) {
                perms.add(PosixFilePermission.GROUP_EXECUTE);
                view.setPermissions(perms);
            }
        }
        return abs;
    }

    private static void createMissing(Path abs, GroupPrincipal group) throws IOException {
        Path existing = abs;
        while (existing != null && !Files.exists(existing, NOFOLLOW)) {
            existing = existing.getParent();
        }
        if (existing == abs) {
            return;
        }
        // Top down, each with the final directory's mode, so that the group can also pass the ones above it.
        for (int i = existing == null ? 0 : existing.getNameCount(); i < abs.getNameCount(); i++) {
            Path p = abs.getRoot().resolve(abs.subpath(0, i + 1));
            try {
                Files.createDirectory(p, PosixFilePermissions.asFileAttribute(mode("700")));
            } catch (FileAlreadyExistsException raced) {
                continue; // someone else made it: the checks below judge it
            }
            if (group != null) {
                // The group first, then its search bit: never open to our own primary group in between.
                PosixFileAttributeView view = Files.getFileAttributeView(p, PosixFileAttributeView.class, NOFOLLOW);
                view.setGroup(group);
                view.setPermissions(mode("750"));
            }
        }
    }

    /** Refuses dir unless it is a directory of ours that no one else can write, under directories safe alike. */
    public static void check(Path dir) throws IOException {
        Path abs = dir.toAbsolutePath().normalize();
        int me = effectiveUid();
        Map<String, Object> a = unix(abs);
        int mode = (Integer) a.get("mode");
        String refusal = ": refusing to create sockets there";
        if ((mode & S_IFMT) == S_IFLNK) {
            throw new IOException(abs + " is a symbolic link" + refusal);
        }
        if ((mode & S_IFMT) != S_IFDIR) {
            throw new IOException(abs + " is not a directory" + refusal);
        }
        int uid = (Integer) a.get("uid");
        if (uid != me) {
            throw new IOException(abs + " is owned by uid " + uid + ", not by vnicd's user (" + me + ")" + refusal);
        }
        if ((mode & S_IWOTH) != 0) {
            throw new IOException(abs + " is writable by other users (mode " + octal(mode) + ")" + refusal);
        }
        if ((mode & S_IWGRP) != 0) {
            throw new IOException(abs + " is writable by its group (mode " + octal(mode) + ")" + refusal);
        }
        // Above it, as written and as resolved: a symbolic link on the way is as safe as the directory holding it
        // and the directories it leads to.
        checkAncestors(abs, abs, me);
        Path parent = abs.getParent();
        if (parent != null) {
            Path real = parent.toRealPath();
            if (!real.equals(parent)) {
                checkAncestors(real.resolve(abs.getFileName()), abs, me);
            }
        }
    }

    private static void checkAncestors(Path path, Path dir, int me) throws IOException {
        for (Path p = path.getParent(); p != null; p = p.getParent()) {
            Map<String, Object> a = unix(p);
            int mode = (Integer) a.get("mode");
            int uid = (Integer) a.get("uid");
            if (uid != 0 && uid != me) {
                throw new IOException(p + " (above " + dir + ") is owned by uid " + uid + ", neither root nor vnicd's user ("
                        + me + "): refusing to create sockets in " + dir);
            }
            boolean link = (mode & S_IFMT) == S_IFLNK;
            if (!link && (mode & (S_IWGRP | S_IWOTH)) != 0 && (mode & S_ISVTX) == 0) {
                throw new IOException(p + " (above " + dir + ") is writable by " + ((mode & S_IWOTH) != 0 ? "other users" : "its group")
                        + " and not sticky (mode " + octal(mode) + "): refusing to create sockets in " + dir);
            }
        }
    }

    /**
     * After bind: gives the socket its group (if any) and mode. Until then it is only as reachable as its
     * directory allows, which is the daemon's user and that same group.
     */
    public static void grant(Path socket, Set<PosixFilePermission> mode, GroupPrincipal group) throws IOException {
        // A socket cannot be opened for fchmod, so the mode goes by path: checked to be the socket itself first
        // (in a directory only the daemon's user can write, nothing can swap it for a link afterwards).
        if (!isSocket(socket)) {
            throw new IOException(socket + " is not a socket");
        }
        if (group != null) {
            Files.getFileAttributeView(socket, PosixFileAttributeView.class, NOFOLLOW).setGroup(group);
        }
        Files.setPosixFilePermissions(socket, mode);
    }

    /** True when path is a socket (not following a link); false when it is absent. */
    static boolean isSocket(Path path) throws IOException {
        try {
            return ((Integer) unix(path).get("mode") & S_IFMT) == S_IFSOCK;
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    private static Map<String, Object> unix(Path p) throws IOException {
        return Files.readAttributes(p, "unix:mode,uid", NOFOLLOW);
    }

    private static String octal(int mode) {
        return String.format("%04o", mode & 07777);
    }
}
