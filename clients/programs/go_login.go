// sshmatrix's Go client: golang.org/x/crypto/ssh (the version of a Debian release's
// golang-golang-x-crypto-dev, compiled in that release's image) logs in once with a key file
// (or a password) and reports.
//
// argv: HOST PORT USER KEY TIMEOUT_SECS FAMILY (empty: none). Secrets are read from the 0600
// files $SSHMATRIX_PASSFILE (passphrase) and $SSHMATRIX_PASSWORD_FILE (password), never argv;
// $SSHMATRIX_AGENT_SOCK names an agent cell's ssh-agent.
// Prints `sshmatrix-negotiated hostkey=...` once the transport is up and one
// `sshmatrix-result ok` or `sshmatrix-result fail STAGE MESSAGE` line. It builds with Go 1.15
// and x/crypto of 2020 onwards (GOPATH mode, io/ioutil).
package main

import (
	"fmt"
	"io/ioutil"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyFailed is set when the host key check refused the server's key.
var hostKeyFailed bool

func result(words ...string) {
	fmt.Println("sshmatrix-result " + strings.Join(words, " "))
}

// secret reads a secret file without its trailing newline; ok is false when none is named.
func secret(env string) (string, bool, error) {
	path := os.Getenv(env)
	if path == "" {
		return "", false, nil
	}
	b, err := ioutil.ReadFile(path)
	return strings.TrimRight(string(b), "\n"), true, err
}

// answered is the method that gives the password: keyboard-interactive (every echo-off prompt
// answered with it, as programs built on x/crypto write it) when $SSHMATRIX_METHOD says so,
// else the password method.
func answered(pw string) ssh.AuthMethod {
	if os.Getenv("SSHMATRIX_METHOD") != "keyboard-interactive" {
		return ssh.Password(pw)
	}
	return ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
		answers := make([]string, len(questions))
		for i := range questions {
			if !echos[i] {
				answers[i] = pw
			}
		}
		return answers, nil
	})
}

// auth is the cell's authentication methods, or the stage and message of why there are none:
// a password cell's password; a key (file or agent); a two-step cell's key, then its password
// (x/crypto tries the methods in turn, continuing on the server's partial success).
func auth(key string) ([]ssh.AuthMethod, string, string) {
	pw, hasPassword, err := secret("SSHMATRIX_PASSWORD_FILE")
	if err != nil {
		return nil, "key-load", err.Error()
	}
	if hasPassword && key == "" {
		return []ssh.AuthMethod{answered(pw)}, "", ""
	}
	if sock := os.Getenv("SSHMATRIX_AGENT_SOCK"); sock != "" {
		conn, err := net.Dial("unix", sock)
		if err != nil {
			return nil, "key-load", err.Error()
		}
		return []ssh.AuthMethod{ssh.PublicKeysCallback(agent.NewClient(conn).Signers)}, "", ""
	}
	pem, err := ioutil.ReadFile(key)
	if err != nil {
		return nil, "key-load", err.Error()
	}
	pass, ok, err := secret("SSHMATRIX_PASSFILE")
	if err != nil {
		return nil, "key-load", err.Error()
	}
	var signer ssh.Signer
	if ok {
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(pass))
	} else {
		signer, err = ssh.ParsePrivateKey(pem)
	}
	if err != nil {
		return nil, "key-load", err.Error()
	}
	if path := os.Getenv("SSHMATRIX_CERT"); path != "" {
		signer, err = certSigner(path, signer)
		if err != nil {
			return nil, "key-load", err.Error()
		}
	}
	methods := []ssh.AuthMethod{ssh.PublicKeys(signer)}
	if hasPassword {
		methods = append(methods, answered(pw))
	}
	return methods, "", ""
}

// certSigner presents the OpenSSH certificate at path with signer's key.
func certSigner(path string, signer ssh.Signer) (ssh.Signer, error) {
	text, err := ioutil.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(text)
	if err != nil {
		return nil, err
	}
	cert, ok := pub.(*ssh.Certificate)
	if !ok {
		return nil, fmt.Errorf("%s holds no certificate", path)
	}
	return ssh.NewCertSigner(cert, signer)
}

// hostKeyCheck reports the host key's type and, with $SSHMATRIX_KNOWN_HOSTS, checks it as
// knownhosts does (@cert-authority lines through ssh.CertChecker); without, accepts it.
// knownhosts matches a pattern written without a port (`@cert-authority *`) only on port 22
// (newHostnameMatcher), and a cell's server listens on a one-shot port: the key is checked as
// the host's port-22 server's, which is what such a line is written for.
func hostKeyCheck() (ssh.HostKeyCallback, error) {
	check := func(string, net.Addr, ssh.PublicKey) error { return nil }
	if path := os.Getenv("SSHMATRIX_KNOWN_HOSTS"); path != "" {
		cb, err := knownhosts.New(path)
		if err != nil {
			return nil, err
		}
		check = func(h string, a net.Addr, k ssh.PublicKey) error {
			host, _, err := net.SplitHostPort(h)
			if err != nil {
				host = h
			}
			remote := &net.TCPAddr{IP: net.ParseIP(host), Port: 22}
			if tcp, ok := a.(*net.TCPAddr); ok {
				remote.IP = tcp.IP
			}
			return cb(net.JoinHostPort(host, "22"), remote, k)
		}
	}
	return func(h string, a net.Addr, k ssh.PublicKey) error {
		fmt.Println("sshmatrix-negotiated hostkey=" + k.Type())
		return check(h, a, k)
	}, nil
}

// stage names where a handshake error happened.
func stage(err error) string {
	if hostKeyFailed {
		return "hostkey"
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unable to authenticate"):
		return "auth"
	case strings.Contains(msg, "no common algorithm"):
		return "negotiate"
	}
	if _, ok := err.(*net.OpError); ok {
		return "connect"
	}
	return "negotiate"
}

func main() {
	host, port, user, key := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	secs, _ := strconv.Atoi(os.Args[5])
	methods, where, why := auth(key)
	if methods == nil {
		result("fail", where, why)
		return
	}
	check, err := hostKeyCheck()
	if err != nil {
		result("fail", "key-load", err.Error())
		return
	}
	config := &ssh.ClientConfig{
		User: user,
		Auth: methods,
		HostKeyCallback: func(h string, a net.Addr, k ssh.PublicKey) error {
			err := check(h, a, k)
			hostKeyFailed = err != nil
			return err
		},
		Timeout: time.Duration(secs) * time.Second,
	}
	client, err := ssh.Dial("tcp", net.JoinHostPort(host, port), config)
	if err != nil {
		result("fail", stage(err), err.Error())
		return
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		result("fail", "session", err.Error())
		return
	}
	session.Close()
	result("ok")
}
