// sshmatrix's JSch client: log in once with a key file (or a password) and report.
//
// argv: HOST PORT USER KEY TIMEOUT_SECS FAMILY (empty: none). Secrets are read from the 0600
// files $SSHMATRIX_PASSFILE (passphrase) and $SSHMATRIX_PASSWORD_FILE (password), never argv.
// JSch ends at authentication (its session
// channels are shell or exec requests, which would run the user's shell). Prints
// `sshmatrix-negotiated ...` and one `sshmatrix-result ok` or `sshmatrix-result fail STAGE
// MESSAGE` line.
import com.jcraft.jsch.JSch;
import com.jcraft.jsch.JSchException;
import com.jcraft.jsch.Session;
import java.nio.charset.StandardCharsets;

public class JschLogin extends SshmatrixCell {
    // JSch quotes the key's bytes as a Java array identity ("[B@1b6d3586"): not a stable reason.
    static String message(Exception e) {
        String m = String.valueOf(e.getMessage()).replaceAll(": \\[B@[0-9a-f]+", "");
        return e.getClass().getSimpleName() + ": " + m;
    }

    static String stage(JSchException e) {
        String m = String.valueOf(e.getMessage());
        if (m.contains("Auth fail") || m.contains("Auth cancel") || m.contains("USERAUTH")) {
            return "auth";
        }
        if (m.startsWith("java.net.") || m.contains("timeout: socket")) {
            return "connect";
        }
        return "negotiate";
    }

    public static void main(String[] a) throws Exception {
        String host = a[0], user = a[2], key = a[3];
        String passfile = env("SSHMATRIX_PASSFILE"), pwfile = env("SSHMATRIX_PASSWORD_FILE");
        int port = Integer.parseInt(a[1]);
        int timeout = (int) (Double.parseDouble(a[4]) * 1000);
        JSch jsch = new JSch();
        if (!key.isEmpty() && pwfile.isEmpty()) {
            try {
                String p = secret(passfile);
                jsch.addIdentity(key, p == null ? null : p.getBytes(StandardCharsets.UTF_8));
            } catch (Exception e) {
                // JSch throws more than JSchException on files it cannot parse.
                result("fail key-load " + message(e));
                return;
            }
        }
        Session s = jsch.getSession(user, host, port);
        s.setConfig("StrictHostKeyChecking", "no");
        s.setConfig("PreferredAuthentications", pwfile.isEmpty() ? "publickey" : "password");
        if (!pwfile.isEmpty()) {
            s.setPassword(secret(pwfile));
        }
        try {
            s.connect(timeout);
        } catch (JSchException e) {
            result("fail " + stage(e) + " " + message(e));
            return;
        }
        System.out.println("sshmatrix-negotiated hostkey=" + s.getHostKey().getType());
        s.disconnect();
        result("ok");
    }
}
