import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A small XML tree: enough for AWS's query, ec2 and rest-xml responses.
public final class XMLElement: @unchecked Sendable {
    public let name: String
    public var text: String = ""
    public var children: [XMLElement] = []

    init(name: String) { self.name = name }

    /// The first child with this (local) name.
    public subscript(_ child: String) -> XMLElement? { children.first { $0.name == child } }

    /// Follows a path of child names: `root.at("DescribeStacksResult", "Stacks")`.
    public func at(_ path: String...) -> XMLElement? {
        var node: XMLElement? = self
        for p in path { node = node?[p] }
        return node
    }

    public func all(_ child: String) -> [XMLElement] { children.filter { $0.name == child } }

    /// Text of a child, nil when absent.
    public func string(_ child: String) -> String? { self[child]?.text }

    /// The `member`/`item` entries of a list wrapper: `<Stacks><member/>...</Stacks>`.
    public func list(_ wrapper: String, item: String = "member") -> [XMLElement] { self[wrapper]?.all(item) ?? [] }

    /// Depth-first search for the first element with this name.
    public func find(_ name: String) -> XMLElement? {
        if self.name == name { return self }
        for c in children { if let f = c.find(name) { return f } }
        return nil
    }

    public static func parse(_ data: Data) -> XMLElement? {
        let delegate = Builder()
        let parser = XMLParser(data: data)
        parser.delegate = delegate
        parser.shouldProcessNamespaces = false
        guard parser.parse(), let root = delegate.root else { return nil }
        return root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var stack: [XMLElement] = []
        var root: XMLElement?
        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
            let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
            let el = XMLElement(name: local)
            stack.last?.children.append(el)
            if root == nil { root = el }
            stack.append(el)
        }
        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
            if let el = stack.popLast(), !el.children.isEmpty {
                el.text = el.text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { stack.last?.text += string }
        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
            stack.last?.text += String(decoding: CDATABlock, as: UTF8.self)
        }
    }
}
