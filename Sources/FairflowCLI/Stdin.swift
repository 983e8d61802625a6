import FairflowCore
import Foundation

/// Reads a password from stdin: never from a flag, where it would sit in shell history and `ps`.
func readPasswordFromStdin() throws -> String {
    let data = FileHandle.standardInput.readDataToEndOfFile()
    guard let s = String(data: data, encoding: .utf8) else {
        throw FairflowError.usage("cannot read the password", why: "stdin is not UTF-8 text", fix: "pipe the password in as text")
    }
    return s.hasSuffix("\r\n") ? String(s.dropLast(2)) : s.hasSuffix("\n") ? String(s.dropLast()) : s
}
