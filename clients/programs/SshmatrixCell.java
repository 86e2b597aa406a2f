// What every sshmatrix Java client program shares (as sshmatrix_cell.py does for the Python
// ones): the result line, the environment, and secrets read from their 0600 files.
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;

public class SshmatrixCell {
    /** Prints `sshmatrix-result WORDS`. */
    static void result(String words) {
        System.out.println("sshmatrix-result " + words);
        System.out.flush();
    }

    /** An environment variable, empty when unset. */
    static String env(String name) {
        String v = System.getenv(name);
        return v == null ? "" : v;
    }

    /** A secret from its file (null for no file), without the trailing newline. */
    static String secret(String path) throws IOException {
        if (path.isEmpty()) {
            return null;
        }
        String s = new String(Files.readAllBytes(Paths.get(path)), StandardCharsets.UTF_8);
        return s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
    }
}
