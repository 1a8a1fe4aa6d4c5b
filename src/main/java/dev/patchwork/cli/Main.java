package dev.patchwork.cli;

/** Entry point placeholder; the picocli command tree is added with the CLI. */
public final class Main {
    public static void main(String[] args) {
        System.out.println(dev.patchwork.tensor.Simd.describe());
    }
}
