package dev.patchwork.io;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;

/**
 * Writes zip archives laid out as torch.save does: every record stored, its data 64-byte aligned by padding the local
 * header's extra field, and ZIP64 end records. Remembers where each part went, so fuzz tests can aim at them.
 */
final class TorchZipBytes {
    /** Where the parts of an archive are: local header offsets (in record order), central directory, end records. */
    record Layout(List<Integer> localHeaders, int centralDirectory, int end) {}

    private final Map<String, byte[]> records = new LinkedHashMap<>();
    private final Map<String, Integer> methods = new LinkedHashMap<>();
    private Layout layout;
    private boolean zip64Fields;

    /** Adds {@code data} as the entry {@code name} (a full name, e.g. {@code archive/data.pkl}). */
    TorchZipBytes add(String name, byte[] data) {
        records.put(name, data);
        return this;
    }

    /** Marks an entry as compressed in its headers (method 8) without compressing it: enough to be refused. */
    TorchZipBytes method(String name, int method) {
        methods.put(name, method);
        return this;
    }

    /**
     * Writes every size and offset of the central directory as 0xFFFFFFFF with the values in a ZIP64 extra field, as
     * torch does for records above 4 GB or beyond byte 2^32.
     */
    TorchZipBytes zip64Fields() {
        zip64Fields = true;
        return this;
    }

    Layout layout() {
        return layout;
    }

    byte[] bytes() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<Integer> offsets = new ArrayList<>();
        List<byte[]> central = new ArrayList<>();
        for (Map.Entry<String, byte[]> r : records.entrySet()) {
            byte[] name = r.getKey().getBytes(StandardCharsets.UTF_8);
            byte[] data = r.getValue();
            int method = methods.getOrDefault(r.getKey(), 0);
            CRC32 crc = new CRC32();
            crc.update(data);
            int offset = out.size();
            offsets.add(offset);
            // Pad with an extra field ("FB" + 'Z's, as torch does) so that the data starts at a multiple of 64.
            int headerEnd = offset + 30 + name.length + 4;
            int pad = (64 - headerEnd % 64) % 64;
            ByteBuffer h = le(30 + name.length + 4 + pad);
            h.putInt(0x04034b50).putShort((short) 0).putShort((short) 0).putShort((short) method).putInt(0)
                    .putInt((int) crc.getValue()).putInt(data.length).putInt(data.length)
                    .putShort((short) name.length).putShort((short) (4 + pad)).put(name)
                    .putShort((short) 0x4246).putShort((short) pad);
            for (int i = 0; i < pad; i++) h.put((byte) 'Z');
            out.writeBytes(h.array());
            out.writeBytes(data);
            int extra = zip64Fields ? 4 + 24 : 0;
            int size32 = zip64Fields ? -1 : data.length, offset32 = zip64Fields ? -1 : offset;
            ByteBuffer c = le(46 + name.length + extra);
            c.putInt(0x02014b50).putShort((short) 0).putShort((short) 0).putShort((short) 0).putShort((short) method)
                    .putInt(0).putInt((int) crc.getValue()).putInt(size32).putInt(size32)
                    .putShort((short) name.length).putShort((short) extra).putShort((short) 0).putShort((short) 0)
                    .putShort((short) 0).putInt(0).putInt(offset32).put(name);
            if (zip64Fields) c.putShort((short) 1).putShort((short) 24).putLong(data.length).putLong(data.length).putLong(offset);
            central.add(c.array());
        }
        int cdOffset = out.size();
        central.forEach(out::writeBytes);
        int cdSize = out.size() - cdOffset;
        int zip64End = out.size();
        ByteBuffer z = le(56 + 20);
        z.putInt(0x06064b50).putLong(44).putShort((short) 45).putShort((short) 45).putInt(0).putInt(0)
                .putLong(records.size()).putLong(records.size()).putLong(cdSize).putLong(cdOffset);
        z.putInt(0x07064b50).putInt(0).putLong(zip64End).putInt(1);
        out.writeBytes(z.array());
        int end = out.size();
        ByteBuffer e = le(22);
        e.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) records.size())
                .putShort((short) records.size()).putInt(cdSize).putInt(cdOffset).putShort((short) 0);
        out.writeBytes(e.array());
        layout = new Layout(offsets, cdOffset, end);
        return out.toByteArray();
    }

    private static ByteBuffer le(int size) {
        return ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A torch.save-like checkpoint: {@code archive/data.pkl}, one record per storage, {@code archive/version}. */
    static TorchZipBytes checkpoint(String archive, byte[] pickle, Map<String, byte[]> storages) {
        TorchZipBytes z = new TorchZipBytes().add(archive + "/data.pkl", pickle);
        storages.forEach((key, data) -> z.add(archive + "/data/" + key, data));
        return z.add(archive + "/version", "3\n".getBytes(StandardCharsets.US_ASCII));
    }
}
