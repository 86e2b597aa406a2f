// sshmatrix's Trilead SSH-2 client (Debian's libtrilead-ssh2-java, the library Jenkins' SSH
// agents grew from): log in once with a key file (or a password) and report.
//
// argv: HOST PORT USER KEY TIMEOUT_SECS FAMILY (empty: none). Secrets are read from the 0600
// files $SSHMATRIX_PASSFILE (passphrase) and $SSHMATRIX_PASSWORD_FILE (password), never argv.
// The host key is accepted as it comes (no known_hosts). After authentication a session
// channel is opened and closed (no shell or command). Prints `sshmatrix-negotiated ...` and
// one `sshmatrix-result ok` or `sshmatrix-result fail STAGE MESSAGE` line.
import com.trilead.ssh2.Connection;
import com.trilead.ssh2.ConnectionInfo;
import com.trilead.ssh2.crypto.PEMDecoder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;

public class TrileadLogin extends SshmatrixCell {
    // Trilead wraps the cause ("Key exchange was not finished, connection is closed.") around
    // the reason that matters: the innermost message names it.
    static String message(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null) {
            root = root.getCause();
        }
        String m = e.getClass().getSimpleName() + ": " + e.getMessage();
        if (root != e) {
            m += " (" + root.getClass().getSimpleName() + ": " + root.getMessage() + ")";
        }
        return m.replace('\n', ' ');
    }

    static String stage(IOException e) {
        String m = message(e);
        if (m.contains("ConnectException") || m.contains("SocketTimeoutException")
                || m.contains("UnknownHostException")) {
            return "connect";
        }
        return "negotiate";
    }

    public static void main(String[] a) throws Exception {
        String host = a[0], user = a[2], key = a[3];
        String passfile = env("SSHMATRIX_PASSFILE"), pwfile = env("SSHMATRIX_PASSWORD_FILE");
        int port = Integer.parseInt(a[1]);
        int timeout = (int) (Double.parseDouble(a[4]) * 1000);
        char[] pem = null;
        if (!key.isEmpty() && pwfile.isEmpty()) {
            pem = new String(Files.readAllBytes(Paths.get(key)), StandardCharsets.UTF_8)
                    .toCharArray();
            // Decoded here, before connecting (Trilead itself decodes at authentication,
            // after the key exchange): a key file it cannot read is named as such whatever
            // the server offers, as for the other libraries.
            try {
                PEMDecoder.decode(pem, secret(passfile));
            } catch (IOException e) {
                result("fail key-load " + message(e));
                return;
            }
        }
        Connection conn = new Connection(host, port);
        try {
            ConnectionInfo info;
            try {
                info = conn.connect(null, timeout, timeout);
            } catch (IOException e) {
                result("fail " + stage(e) + " " + message(e));
                return;
            }
            System.out.println("sshmatrix-negotiated kex=" + info.keyExchangeAlgorithm
                    + " hostkey=" + info.serverHostKeyAlgorithm
                    + " cipher=" + info.clientToServerCryptoAlgorithm
                    + " mac=" + info.clientToServerMACAlgorithm);
            boolean ok;
            try {
                ok = pem != null
                        ? conn.authenticateWithPublicKey(user, pem, secret(passfile))
                        : conn.authenticateWithPassword(user, secret(pwfile));
            } catch (IOException e) {
                result("fail auth " + message(e));
                return;
            }
            if (!ok) {
                String[] left = conn.getRemainingAuthMethods(user);
                result("fail auth Authentication failed (the server offers: "
                        + String.join(",", left) + ")");
                return;
            }
            conn.openSession().close();
            result("ok");
        } finally {
            conn.close();
        }
    }
}
